package io.iommureplay.model.pagetable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class IoPageTableSnapshotTest {
  static Stream<PageTableFormat> formats() {
    return Stream.of(
        PageTableFormat.vtdSecondStage(4, 2),
        PageTableFormat.vtdSecondStage(5, 1),
        PageTableFormat.amdV1(),
        PageTableFormat.armLpae4k(48));
  }

  @ParameterizedTest
  @MethodSource("formats")
  void aRestoredTableIsTheSameTableAndGoesOnTheSameWay(PageTableFormat format) {
    Random random = new Random(7);
    IoPageTable original = new IoPageTable(format, TablePageListener.NONE);
    randomOps(original, random, 3_000);

    IoPageTable restored = roundTrip(original, format);

    assertThat(mappings(restored)).isEqualTo(mappings(original));
    assertThat(tables(restored)).isEqualTo(tables(original));
    assertThat(restored.liveMappedBytes()).isEqualTo(original.liveMappedBytes());
    assertThat(restored.liveTablePages()).isEqualTo(original.liveTablePages());
    // Both go on alike: same results for the same further calls, including new table ids.
    Random a = new Random(11);
    Random b = new Random(11);
    assertThat(randomOps(restored, b, 2_000)).isEqualTo(randomOps(original, a, 2_000));
    assertThat(tables(restored)).isEqualTo(tables(original));
  }

  @ParameterizedTest
  @MethodSource("formats")
  void consecutive4kMappingsCostAFewBytesEach(PageTableFormat format) {
    IoPageTable table = new IoPageTable(format, TablePageListener.NONE);
    for (long i = 0; i < 100_000; i++)
      table.map(0x100000000L + i * 4096, 0x200000000L + i * 4096, 4096, 3, 0);
    SnapshotOutput out = new SnapshotOutput();
    table.save(out);

    assertThat(out.size() / 100_000.0).isLessThan(4.0);
  }

  @ParameterizedTest
  @MethodSource("formats")
  void aTruncatedSnapshotIsRefused(PageTableFormat format) {
    IoPageTable table = new IoPageTable(format, TablePageListener.NONE);
    randomOps(table, new Random(3), 200);
    SnapshotOutput out = new SnapshotOutput();
    table.save(out);
    byte[] bytes = out.toByteArray();

    assertThatThrownBy(
            () ->
                IoPageTable.restore(
                    new SnapshotInput(Arrays.copyOf(bytes, bytes.length / 2)),
                    format,
                    TablePageListener.NONE))
        .isInstanceOf(SnapshotFormatException.class);
  }

  private static IoPageTable roundTrip(IoPageTable table, PageTableFormat format) {
    SnapshotOutput out = new SnapshotOutput();
    table.save(out);
    SnapshotInput in = new SnapshotInput(out.toByteArray());
    IoPageTable restored = IoPageTable.restore(in, format, TablePageListener.NONE);
    assertThat(in.atEnd()).isTrue();
    return restored;
  }

  /** Random aligned maps (4K and 2M) and unmaps in a 1 GiB window; returns what each call did. */
  private static List<String> randomOps(IoPageTable table, Random random, int count) {
    List<String> results = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      boolean large = random.nextInt(10) == 0;
      long page = large ? 2L << 20 : 4096;
      long iova = (0x40000000L + random.nextInt(1 << 18) * 4096L) & -page;
      long pages = 1 + random.nextInt(large ? 2 : 16);
      if (random.nextBoolean()) {
        results.add(
            table.map(iova, 0x8000000000L + iova, pages * page, 3, random.nextInt(4)).toString());
      } else {
        results.add(table.unmap(iova, pages * page, random.nextInt(4)).toString());
      }
    }
    return results;
  }

  private static List<String> mappings(IoPageTable table) {
    List<String> out = new ArrayList<>();
    table.forEachMapping(
        (iova, paddr, size, prot) -> out.add(iova + ":" + paddr + ":" + size + ":" + prot));
    return out;
  }

  private static List<String> tables(IoPageTable table) {
    List<String> out = new ArrayList<>();
    table.forEachTablePage(t -> out.add(t.toString()));
    return out;
  }
}
