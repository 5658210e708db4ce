package io.iommureplay.model.pagetable;

import static io.iommureplay.model.pagetable.PageTableTesting.K4;
import static io.iommureplay.model.pagetable.PageTableTesting.M2;
import static io.iommureplay.model.pagetable.PageTableTesting.RW;
import static io.iommureplay.model.pagetable.PageTableTesting.mappings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.iommureplay.model.pagetable.PageTableTesting.Mapping;
import io.iommureplay.model.pagetable.PageTableTesting.RecordingListener;
import io.iommureplay.model.pagetable.UnmapResult.PartialLargePage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** ARM LPAE stage 1, 4 KiB granule, drivers/iommu/io-pgtable-arm.c. */
class ArmLpaePageTableTest {

  private static final int CPU = 1;

  private final RecordingListener listener = new RecordingListener();
  private final IoPageTable table = new IoPageTable(PageTableFormat.armLpae4k(48), listener);

  @ParameterizedTest
  @CsvSource({"32, 3, 4", "40, 4, 2", "48, 4, 512"})
  void levelsAreCeilingOfIasMinus12Over9AndTheRootHoldsWhatIasNeeds(
      int ias, int levels, int rootEntries) {
    IoPageTable lpae = new IoPageTable(PageTableFormat.armLpae4k(ias), listener);
    TablePage root = listener.installed.get(listener.installed.size() - 1);

    assertThat(lpae.levels()).isEqualTo(levels);
    assertThat(root.spanLast()).isEqualTo((1L << ias) - 1);
    assertThat((root.spanLast() + 1) >>> PageTableFormat.entryShift(levels)).isEqualTo(rootEntries);
    // arm_lpae_map_pages(): iova beyond ias is -ERANGE.
    assertThat(lpae.map((1L << ias) - K4, 0, K4, RW, CPU).status()).isEqualTo(OpStatus.OK);
    assertThat(lpae.map(1L << ias, 0, K4, RW, CPU).status()).isEqualTo(OpStatus.OUT_OF_RANGE);
  }

  @Test
  void splitsIntoBlocksLikeIommuPgsize() {
    table.map(0x1ff000, 0x401ff000, 0x402000, RW, CPU);

    assertThat(mappings(table))
        .containsExactly(
            Mapping.rw(0x1ff000, 0x401ff000, K4),
            Mapping.rw(0x200000, 0x40200000, M2),
            Mapping.rw(0x400000, 0x40400000, M2),
            Mapping.rw(0x600000, 0x40600000, K4));
    assertThat(listener.installed)
        .extracting(TablePage::level, TablePage::parentIndex, TablePage::installCpu)
        .containsExactly(
            tuple(4, -1, TablePage.NO_CPU),
            tuple(3, 0, CPU),
            tuple(2, 0, CPU),
            tuple(1, 0, CPU),
            tuple(1, 3, CPU));
  }

  @Test
  void mapOverALiveLeafFailsWithEexistAndTheCoreUnrollsWhatTheCallHadMapped() {
    table.map(0x200000, 0xa000, K4, RW, CPU);

    // Two pages land in the level-1 table below 0x200000; the third meets the leaf: -EEXIST,
    // and __iommu_map() unmaps the two.
    MapResult result = table.map(0x1fe000, 0x5001000, 3 * K4, RW, CPU);

    assertThat(result.status()).isEqualTo(OpStatus.EXISTS);
    assertThat(result.firstConflictIova()).isEqualTo(0x200000);
    assertThat(result.replacedBytes()).isZero();
    assertThat(mappings(table)).containsExactly(Mapping.rw(0x200000, 0xa000, K4));
  }

  @Test
  void smallPageUnderABlockFailsWithEexist() {
    table.map(0x200000, 0x40200000, M2, RW, CPU);

    MapResult result = table.map(0x201000, 0x9000, K4, RW, CPU);

    assertThat(result.status()).isEqualTo(OpStatus.EXISTS);
    assertThat(table.translate(0x201000)).isEqualTo(0x40201000);
  }

  @Test
  void blockOverATableFreesTheTableAfterTheDriversWalkFlush() {
    table.map(0x200000, 0x9000, K4, RW, CPU);

    // arm_lpae_init_pte(): "We need to unmap and free the old table before overwriting it with a
    // block entry."
    MapResult result = table.map(0x200000, 0x40200000, M2, RW, CPU);

    assertThat(result.status()).isEqualTo(OpStatus.OK);
    assertThat(result.replacedBytes()).isEqualTo(K4);
    assertThat(result.freedTables()).singleElement().extracting(TablePage::level).isEqualTo(1);
    assertThat(result.freeTiming()).isEqualTo(TableFreeTiming.AFTER_DRIVER_FLUSH);
    assertThat(mappings(table)).containsExactly(Mapping.rw(0x200000, 0x40200000, M2));
  }

  @Test
  void partialUnmapOfABlockIsRefused() {
    table.map(0x200000, 0x40200000, M2, RW, CPU);

    UnmapResult result = table.unmap(0x200000, K4, CPU);

    assertThat(result.unmappedSize()).isZero();
    assertThat(result.partialLargePage()).isEqualTo(PartialLargePage.REFUSED);
    assertThat(result.removedBytes()).isZero();
    assertThat(table.liveMappedBytes()).isEqualTo(M2);
  }

  @Test
  void unmapOfAnUnmappedRangeReturnsZero() {
    assertThat(table.unmap(0x5000, K4, CPU).unmappedSize()).isZero();

    table.map(0x1000, 0xa000, 2 * K4, RW, CPU);
    // Clears up to the first empty entry; __iommu_unmap() then stops at the 0 that follows.
    UnmapResult result = table.unmap(0x1000, 4 * K4, CPU);
    assertThat(result.unmappedSize()).isEqualTo(2 * K4);
    assertThat(result.notMappedBytes()).isEqualTo(2 * K4);
  }

  @Test
  void blockSizedUnmapOfATableFreesItButPageSizedUnmapsNeverDo() {
    table.map(0x200000, 0x40201000, M2, RW, CPU);
    table.map(0x400000, 0x40401000, M2, RW, CPU);
    int tables = table.liveTablePages();

    // Emptied page by page: the level-1 table stays.
    table.unmap(0x400000, M2 - K4, CPU);
    table.unmap(0x5ff000, K4, CPU);
    assertThat(table.liveTablePages()).isEqualTo(tables);

    // iommu_pgsize() picks 2M; __arm_lpae_unmap() meets the table at that level and frees it.
    UnmapResult result = table.unmap(0x200000, M2, CPU);
    assertThat(result.unmappedSize()).isEqualTo(M2);
    assertThat(result.removedBytes()).isEqualTo(M2);
    assertThat(result.freedTables())
        .singleElement()
        .extracting(TablePage::spanStart)
        .isEqualTo(0x200000L);
    assertThat(result.freeTiming()).isEqualTo(TableFreeTiming.AFTER_DRIVER_FLUSH);
    assertThat(table.liveTablePages()).isEqualTo(tables - 1).isEqualTo(listener.live());
  }
}
