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

/** AMD v1 host page tables, drivers/iommu/amd/io_pgtable.c. */
class AmdV1PageTableTest {

  private static final int CPU = 2;
  private static final long G256 = 1L << 38;
  private static final long G512 = 1L << 39;

  private final RecordingListener listener = new RecordingListener();
  private final IoPageTable table = new IoPageTable(PageTableFormat.amdV1(), listener);

  @Test
  void oddPageSizesAreReplicatedEntriesOneLevelDown() {
    table.map(0x10000, 0x40010000, 0x70000, RW, CPU);

    // iommu_pgsize() steps 64K, 128K, 256K; iommu_v1_map_pages() writes 16, 32 and 64 copies
    // of each PTE (PM_LEVEL_ENC(7)) into the level-1 table.
    assertThat(mappings(table))
        .containsExactly(
            Mapping.rw(0x10000, 0x40010000, 0x10000),
            Mapping.rw(0x20000, 0x40020000, 0x20000),
            Mapping.rw(0x40000, 0x40040000, 0x40000));
    assertThat(table.translate(0x4a123)).isEqualTo(0x4004a123);
    assertThat(table.liveTablePages()).isEqualTo(3);
    assertThat(table.levels()).isEqualTo(3);
  }

  @Test
  void twoToTheNinth1GiBIsTwo256GiBPagesBecause512GiBPagesAreMissing() {
    table.map(G512, G512, G512, RW, CPU);

    assertThat(mappings(table))
        .containsExactly(Mapping.rw(G512, G512, G256), Mapping.rw(G512 + G256, G512 + G256, G256));
    assertThat(table.levels()).isEqualTo(4);
  }

  @Test
  void growsANewRootAboveTheOldOneWhenAnIovaNeedsIt() {
    TablePage oldRoot = listener.installed.get(0);

    // alloc_pte() → increase_address_space(): 3 levels translate 39 bits.
    table.map(G512, 0x1000, K4, RW, CPU);

    assertThat(table.levels()).isEqualTo(4);
    assertThat(listener.installed.get(1))
        .extracting(TablePage::level, TablePage::isRoot, TablePage::installCpu)
        .containsExactly(4, true, CPU);
    assertThat(oldRoot.parentId()).isEqualTo(listener.installed.get(1).id());
    assertThat(oldRoot.parentIndex()).isZero();
    assertThat(table.translate(G512)).isEqualTo(0x1000);
  }

  @Test
  void growsWhenAPageSizeNeedsAHigherLevel() {
    TablePage oldRoot = listener.installed.get(0);

    MapResult result = table.map(0, 0, 1L << 40, RW, CPU);

    // A 1 TiB page is two copies of a level-4 entry: "pgtable->mode - 1 <
    // PAGE_SIZE_LEVEL(page_size)".
    // The first copy goes where the old root was linked: free_clear_pte() frees it.
    assertThat(table.levels()).isEqualTo(4);
    assertThat(mappings(table)).containsExactly(Mapping.rw(0, 0, 1L << 40));
    assertThat(result.freedTables()).containsExactly(oldRoot);
    assertThat(table.liveTablePages()).isEqualTo(1);
  }

  @Test
  void mapOverALiveLeafReplacesItSilently() {
    table.map(0x1000, 0xa000, K4, RW, CPU);

    MapResult result = table.map(0x1000, 0xb000, K4, RW, CPU);

    assertThat(result.status()).isEqualTo(OpStatus.OK);
    assertThat(result.replacedBytes()).isEqualTo(K4);
    assertThat(result.keptOldBytes()).isZero();
    assertThat(result.firstConflictIova()).isEqualTo(0x1000);
    assertThat(table.translate(0x1000)).isEqualTo(0xb000);
  }

  @Test
  void smallPageOverOneReplicaLeavesTheOtherReplicaTranslatingTheOldPage() {
    table.map(0, 0x40000000, 0x2000, RW, CPU);

    // free_clear_pte() and the write touch only the 4K page's own slot.
    MapResult result = table.map(0x1000, 0xc000, K4, RW, CPU);

    assertThat(result.replacedBytes()).isEqualTo(K4);
    assertThat(table.translate(0)).isEqualTo(0x40000000);
    assertThat(table.translate(0x1000)).isEqualTo(0xc000);
    assertThat(mappings(table))
        .containsExactly(Mapping.rw(0, 0x40000000, K4), Mapping.rw(0x1000, 0xc000, K4));
  }

  @Test
  void smallPageInsideALargerPageClearsAllOfItAndInstallsATable() {
    table.map(0x400000, 0x40400000, 2 * M2, RW, CPU);

    // alloc_pte(): "If we replace a series of large PTEs, we need to tear down all of them."
    MapResult result = table.map(0x401000, 0x9000, K4, RW, CPU);

    assertThat(result.replacedBytes()).isEqualTo(2 * M2);
    assertThat(mappings(table)).containsExactly(Mapping.rw(0x401000, 0x9000, K4));
  }

  @Test
  void largePageOverATableFreesItAfterTheMapsOwnFlush() {
    table.map(M2, 0x9000, K4, RW, CPU);

    MapResult result = table.map(M2, 0x40200000, M2, RW, CPU);

    assertThat(result.replacedBytes()).isEqualTo(K4);
    assertThat(result.freedTables())
        .singleElement()
        .extracting(TablePage::level, TablePage::spanStart)
        .containsExactly(1, M2);
    assertThat(result.freeTiming()).isEqualTo(TableFreeTiming.AFTER_DRIVER_FLUSH);
  }

  @Test
  void partialUnmapOfALargePageRemovesAllOfIt() {
    table.map(0x10000, 0x40010000, 0x10000, RW, CPU);

    // iommu_v1_unmap_pages(): fetch_pte() returns the first of the 16 replicas; all are cleared.
    UnmapResult result = table.unmap(0x14000, K4, CPU);

    assertThat(result.unmappedSize()).isEqualTo(0x10000);
    assertThat(result.removedBytes()).isEqualTo(0x10000);
    assertThat(result.partialLargePage()).isEqualTo(PartialLargePage.REMOVED_WHOLE);
    assertThat(table.liveMappedBytes()).isZero();
  }

  @Test
  void unmapOfAnUnmappedRangeStopsAtAMissingTableButCountsEmptyLevel1Slots() {
    // fetch_pte() fails at the empty root entry.
    assertThat(table.unmap(0x5000, K4, CPU).unmappedSize()).isZero();

    // With the level-1 table present, fetch_pte() returns the empty slot and it is "unmapped".
    table.map(0x1000, 0xa000, K4, RW, CPU);
    UnmapResult result = table.unmap(0x5000, K4, CPU);
    assertThat(result.unmappedSize()).isEqualTo(K4);
    assertThat(result.removedBytes()).isZero();
    assertThat(result.notMappedBytes()).isEqualTo(K4);
  }

  @Test
  void unmapNeverFreesTables() {
    table.map(M2, 0x40001000, M2, RW, CPU);
    int tables = table.liveTablePages();

    UnmapResult result = table.unmap(M2, M2, CPU);

    assertThat(result.unmappedSize()).isEqualTo(M2);
    assertThat(result.removedBytes()).isEqualTo(M2);
    assertThat(result.freedTables()).isEmpty();
    assertThat(table.liveTablePages()).isEqualTo(tables);
    assertThat(listener.installed)
        .extracting(TablePage::level, TablePage::spanStart)
        .containsExactly(tuple(3, 0L), tuple(2, 0L), tuple(1, M2));
  }
}
