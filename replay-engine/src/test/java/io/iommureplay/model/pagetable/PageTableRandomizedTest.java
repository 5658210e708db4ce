package io.iommureplay.model.pagetable;

import static io.iommureplay.model.pagetable.PageTableTesting.K4;
import static io.iommureplay.model.pagetable.PageTableTesting.RW;
import static io.iommureplay.model.pagetable.PageTableTesting.mappings;
import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.pagetable.PageTableTesting.Mapping;
import io.iommureplay.model.pagetable.PageTableTesting.RecordingListener;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Thousands of random 4 KiB-page maps (overlapping live mappings often) and unmaps of mapped runs,
 * checked against a map of 4 KiB pages that applies each format's rule for mapping over a live
 * page. Each physical frame number has the other parity than its IOVA's, so {@code iommu_pgsize()}
 * never picks a larger page.
 */
class PageTableRandomizedTest {

  private static final int OPERATIONS = 5000;
  private static final long REGION_PAGES =
      1 << 14; // 64 MiB: runs cross level-1 tables, maps collide
  private static final int MAX_RUN_PAGES = 64;

  enum Format {
    VTD(PageTableFormat.vtdSecondStage(4, 0)),
    ARM(PageTableFormat.armLpae4k(48)),
    AMD(PageTableFormat.amdV1());

    final PageTableFormat format;

    Format(PageTableFormat format) {
      this.format = format;
    }
  }

  @ParameterizedTest
  @EnumSource(Format.class)
  void liveMappingsFollowAReferenceOf4KPages(Format format) {
    Random random = new Random(20_260_101L + format.ordinal());
    RecordingListener listener = new RecordingListener();
    IoPageTable table = new IoPageTable(format.format, listener);
    NavigableMap<Long, Long> reference = new TreeMap<>();

    for (int operation = 0; operation < OPERATIONS; operation++) {
      if (reference.isEmpty() || random.nextInt(5) < 3) {
        randomMap(format, table, reference, random);
      } else {
        randomUnmapOfAMappedRun(table, reference, random);
      }
      assertThat(table.liveMappedBytes()).isEqualTo(reference.size() * K4);
      if (operation % 250 == 0) {
        assertSameMappings(table, reference, random);
      }
    }
    assertSameMappings(table, reference, random);
    assertThat(listener.live()).isEqualTo(table.liveTablePages());
  }

  private static void randomMap(
      Format format, IoPageTable table, NavigableMap<Long, Long> reference, Random random) {
    int pages = 1 + random.nextInt(MAX_RUN_PAGES);
    long iova = random.nextLong(REGION_PAGES - pages) * K4;
    long paddr = (random.nextLong(1L << 27) << 1 | (iova / K4 + 1) & 1) * K4;
    Map<Long, Long> live = reference.subMap(iova, true, iova + (pages - 1) * K4, true);
    long liveBytes = live.size() * K4;
    long firstConflict = live.isEmpty() ? MapResult.NO_CONFLICT : reference.ceilingKey(iova);

    MapResult result = table.map(iova, paddr, pages * K4, RW, 0);

    assertThat(result.firstConflictIova()).isEqualTo(firstConflict);
    switch (format) {
      case VTD -> {
        assertThat(result.status()).isEqualTo(OpStatus.OK);
        assertThat(result.keptOldBytes()).isEqualTo(liveBytes);
        assertThat(result.replacedBytes()).isZero();
        for (int page = 0; page < pages; page++) {
          reference.putIfAbsent(iova + page * K4, paddr + page * K4);
        }
      }
      case ARM -> {
        assertThat(result.status()).isEqualTo(live.isEmpty() ? OpStatus.OK : OpStatus.EXISTS);
        if (live.isEmpty()) {
          putAll(reference, iova, paddr, pages);
        }
      }
      case AMD -> {
        assertThat(result.status()).isEqualTo(OpStatus.OK);
        assertThat(result.replacedBytes()).isEqualTo(liveBytes);
        putAll(reference, iova, paddr, pages);
      }
    }
  }

  private static void randomUnmapOfAMappedRun(
      IoPageTable table, NavigableMap<Long, Long> reference, Random random) {
    Long start = reference.ceilingKey(random.nextLong(REGION_PAGES) * K4);
    long iova = start != null ? start : reference.firstKey();
    int limit = 1 + random.nextInt(MAX_RUN_PAGES);
    int pages = 1;
    while (pages < limit && reference.containsKey(iova + pages * K4)) {
      pages++;
    }

    UnmapResult result = table.unmap(iova, pages * K4, 0);

    assertThat(result.unmappedSize()).isEqualTo(pages * K4);
    assertThat(result.removedBytes()).isEqualTo(pages * K4);
    assertThat(result.notMappedBytes()).isZero();
    assertThat(result.removedOutsideRange()).isZero();
    reference.subMap(iova, true, iova + (pages - 1) * K4, true).clear();
  }

  private static void assertSameMappings(
      IoPageTable table, NavigableMap<Long, Long> reference, Random random) {
    List<Mapping> expected =
        reference.entrySet().stream()
            .map(page -> Mapping.rw(page.getKey(), page.getValue(), K4))
            .toList();
    assertThat(mappings(table)).isEqualTo(expected);
    for (int probe = 0; probe < 100; probe++) {
      long iova = random.nextLong(REGION_PAGES * K4);
      Long paddr = reference.get(iova & -K4);
      assertThat(table.translate(iova))
          .isEqualTo(paddr == null ? IoPageTable.NOT_MAPPED : paddr + (iova & (K4 - 1)));
      long size = (1 + random.nextInt(4 * MAX_RUN_PAGES)) * K4;
      long mapped = reference.subMap(iova & -K4, true, (iova & -K4) + size - 1, true).size() * K4;
      assertThat(table.mappedBytes(iova & -K4, size)).isEqualTo(mapped);
    }
  }

  private static void putAll(NavigableMap<Long, Long> reference, long iova, long paddr, int pages) {
    for (int page = 0; page < pages; page++) {
      reference.put(iova + page * K4, paddr + page * K4);
    }
  }
}
