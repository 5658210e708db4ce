package io.iommureplay.model.pagetable;

import static io.iommureplay.model.pagetable.PageTableTesting.G1;
import static io.iommureplay.model.pagetable.PageTableTesting.K4;
import static io.iommureplay.model.pagetable.PageTableTesting.M2;
import static io.iommureplay.model.pagetable.PageTableTesting.RW;
import static io.iommureplay.model.pagetable.PageTableTesting.mappings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.iommureplay.model.pagetable.PageTableTesting.Mapping;
import io.iommureplay.model.pagetable.PageTableTesting.RecordingListener;
import io.iommureplay.model.pagetable.UnmapResult.PartialLargePage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** VT-d second stage, drivers/iommu/intel/iommu.c. */
class VtdPageTableTest {

  private static final int CPU = 3;

  private final RecordingListener listener = new RecordingListener();
  private final IoPageTable table = new IoPageTable(PageTableFormat.vtdSecondStage(4, 2), listener);

  @Test
  void splitsLikeIommuPgsizeAndInstallsTablesIntoTheirParentSlots() {
    MapResult result = table.map(0x1ff000, 0x401ff000, 0x402000, RW, CPU);

    assertThat(result.status()).isEqualTo(OpStatus.OK);
    assertThat(mappings(table))
        .containsExactly(
            Mapping.rw(0x1ff000, 0x401ff000, K4),
            Mapping.rw(0x200000, 0x40200000, M2),
            Mapping.rw(0x400000, 0x40400000, M2),
            Mapping.rw(0x600000, 0x40600000, K4));
    // pfn_to_dma_pte(): the root comes with the domain, then one table per missing level, each in
    // slot 0 of its parent; the 2M pages sit in level-2 slots 1 and 2; 0x600000 needs a level-1
    // table in slot 3.
    assertThat(listener.installed)
        .extracting(
            TablePage::level,
            TablePage::spanStart,
            TablePage::spanLast,
            TablePage::parentIndex,
            TablePage::installCpu)
        .containsExactly(
            tuple(4, 0L, (1L << 48) - 1, -1, TablePage.NO_CPU),
            tuple(3, 0L, (1L << 39) - 1, 0, CPU),
            tuple(2, 0L, G1 - 1, 0, CPU),
            tuple(1, 0L, M2 - 1, 0, CPU),
            tuple(1, 0x600000L, 0x7fffffL, 3, CPU));
    assertThat(listener.installed.get(3).parentId()).isEqualTo(listener.installed.get(2).id());
    List<TablePage> tree = new ArrayList<>();
    table.forEachTablePage(tree::add);
    assertThat(tree).isEqualTo(listener.installed);
    assertThat(table.liveTablePages()).isEqualTo(5);
    assertThat(table.liveMappedBytes()).isEqualTo(0x402000);
  }

  @Test
  void paddrMisalignedWithTheIovaWithinA2MPageGivesOnly4KPages() {
    table.map(0x1ff000, 0x40200000, 0x402000, RW, CPU);

    assertThat(mappings(table)).hasSize(0x402).allMatch(mapping -> mapping.size() == K4);
    assertThat(table.translate(0x3ff123)).isEqualTo(0x40400123);
    assertThat(table.liveTablePages()).isEqualTo(3 + 4);
  }

  @Test
  void translateAddsTheOffsetWithinTheLargePage() {
    table.map(0x200000, 0x40200000, M2, IoPageTable.IOMMU_READ, CPU);

    assertThat(table.translate(0x2abcd0)).isEqualTo(0x402abcd0);
    assertThat(table.permissions(0x2abcd0)).isEqualTo(IoPageTable.IOMMU_READ);
    assertThat(table.translate(0x1ff000)).isEqualTo(IoPageTable.NOT_MAPPED);
    assertThat(table.permissions(0x1ff000)).isZero();
  }

  @Test
  void mapOverALive4KPageKeepsTheOldPteAndStillSucceeds() {
    table.map(0x1000, 0xa000, K4, RW, CPU);

    // __domain_mapping(): cmpxchg from zero fails, "DMA PTE for vPFN 0x1 already set", WARN, go on.
    MapResult result = table.map(0x1000, 0xb000, 2 * K4, RW, CPU);

    assertThat(result.status()).isEqualTo(OpStatus.OK);
    assertThat(result.keptOldBytes()).isEqualTo(K4);
    assertThat(result.replacedBytes()).isZero();
    assertThat(result.firstConflictIova()).isEqualTo(0x1000);
    assertThat(table.translate(0x1000)).isEqualTo(0xa000);
    assertThat(table.translate(0x2000)).isEqualTo(0xc000);
  }

  @Test
  void smallPageUnderASuperpageIsNotWritten() {
    table.map(0x200000, 0x40200000, M2, RW, CPU);

    MapResult result = table.map(0x201000, 0x9000, K4, RW, CPU);

    assertThat(result.keptOldBytes()).isEqualTo(K4);
    assertThat(result.firstConflictIova()).isEqualTo(0x201000);
    assertThat(table.translate(0x201000)).isEqualTo(0x40201000);
  }

  @Test
  void superpageOverSmallPagesFreesTheirTableAtOnceBeforeAnyFlush() {
    table.map(0x200000, 0x9000, 2 * K4, RW, CPU);
    TablePage smallPageTable = listener.installed.get(listener.installed.size() - 1);

    // switch_to_super_page() → dma_pte_free_pagetable(): leaves cleared, table freed, then the
    // flush.
    MapResult result = table.map(0x200000, 0x40200000, M2, RW, 7);

    assertThat(result.status()).isEqualTo(OpStatus.OK);
    assertThat(result.replacedBytes()).isEqualTo(2 * K4);
    assertThat(result.keptOldBytes()).isZero();
    assertThat(result.freedTables()).containsExactly(smallPageTable);
    assertThat(result.freeTiming()).isEqualTo(TableFreeTiming.IMMEDIATE);
    assertThat(listener.freed)
        .singleElement()
        .isEqualTo(new PageTableTesting.Freed(smallPageTable, 7, TableFreeTiming.IMMEDIATE));
    assertThat(table.translate(0x201000)).isEqualTo(0x40201000);
  }

  @Test
  void superpageOverASuperpageReplacesItSilently() {
    table.map(0x200000, 0x40200000, M2, RW, CPU);

    MapResult result = table.map(0x200000, 0x80200000L, M2, RW, CPU);

    assertThat(result.replacedBytes()).isEqualTo(M2);
    assertThat(result.firstConflictIova()).isEqualTo(0x200000);
    assertThat(table.translate(0x200000)).isEqualTo(0x80200000L);
  }

  @Test
  void partialUnmapAtTheStartOfASuperpageRemovesAllOfIt() {
    table.map(0x200000, 0x40200000, M2, RW, CPU);

    // intel_iommu_unmap(): size rounded up to the superpage size found at the IOVA.
    UnmapResult result = table.unmap(0x200000, K4, CPU);

    assertThat(result.unmappedSize()).isEqualTo(M2);
    assertThat(result.removedBytes()).isEqualTo(M2);
    assertThat(result.removedOutsideRange()).isEqualTo(M2 - K4);
    assertThat(result.partialLargePage()).isEqualTo(PartialLargePage.REMOVED_WHOLE);
    assertThat(result.notMappedBytes()).isZero();
    assertThat(table.liveMappedBytes()).isZero();
  }

  @Test
  void unmapStartingInsideASuperpageLeavesItMapped() {
    table.map(0x200000, 0x40200000, M2, RW, CPU);

    // Rounded to [0x201000, 0x400fff]: dma_pte_clear_level() recurses into the superpage's data
    // page.
    UnmapResult result = table.unmap(0x201000, K4, CPU);

    assertThat(result.unmappedSize()).isEqualTo(M2);
    assertThat(result.removedBytes()).isZero();
    assertThat(result.partialLargePage()).isEqualTo(PartialLargePage.LEFT_MAPPED);
    assertThat(table.translate(0x201000)).isEqualTo(0x40201000);
  }

  @Test
  void unmapOfAnUnmappedRangeReportsThePageSizeOfTheEmptyEntryItFinds() {
    // Empty domain: the walk stops at the root, whose entries map 512 GiB each.
    UnmapResult empty = table.unmap(0x5000, K4, CPU);
    assertThat(empty.unmappedSize()).isEqualTo(1L << 39);
    assertThat(empty.removedBytes()).isZero();
    assertThat(empty.notMappedBytes()).isEqualTo(K4);

    table.map(0x1000, 0xa000, K4, RW, CPU);
    UnmapResult inLeafTable = table.unmap(0x5000, K4, CPU);
    assertThat(inLeafTable.unmappedSize()).isEqualTo(K4);
    assertThat(inLeafTable.notMappedBytes()).isEqualTo(K4);
  }

  @Test
  void unmapOfAnUnmappedPageCanClearTheNextLargePageWorthOfMappings() {
    table.map(0x1000, 0xa000, K4, RW, CPU);
    table.map(0x400000, 0xb000, K4, RW, CPU);

    // 0x3ff000's level-2 entry is empty: rounded to 2 MiB, [0x3ff000, 0x5fefff] takes 0x400000
    // along.
    UnmapResult result = table.unmap(0x3ff000, K4, CPU);

    assertThat(result.unmappedSize()).isEqualTo(M2);
    assertThat(result.removedBytes()).isEqualTo(K4);
    assertThat(result.removedOutsideRange()).isEqualTo(K4);
    assertThat(result.partialLargePage()).isEqualTo(PartialLargePage.NONE);
    assertThat(table.translate(0x400000)).isEqualTo(IoPageTable.NOT_MAPPED);
  }

  @Test
  void aTableIsFreedOnlyByAnUnmapCoveringItsWholeSpanAndWaitsForTheCallersFlush() {
    table.map(0, 0x40001000, 2 * M2, RW, CPU);
    int tables = table.liveTablePages();

    // dma_pte_clear_level() frees nothing a single call does not cover whole, even when it empties
    // it.
    table.unmap(0, M2 - K4, CPU);
    assertThat(table.unmap(M2 - K4, K4, CPU).freedTables()).isEmpty();
    assertThat(table.liveTablePages()).isEqualTo(tables);

    UnmapResult whole = table.unmap(M2, M2, CPU);
    assertThat(whole.freedTables())
        .singleElement()
        .extracting(TablePage::level, TablePage::spanStart)
        .containsExactly(1, M2);
    assertThat(whole.freeTiming()).isEqualTo(TableFreeTiming.AFTER_CALLER_FLUSH);
    assertThat(whole.removedBytes()).isEqualTo(M2);
    assertThat(table.liveTablePages()).isEqualTo(tables - 1);
    assertThat(listener.live()).isEqualTo(table.liveTablePages());
  }

  @Test
  void unmapCoveringTablesUnlinksTheWholeSubtreeParentsFirst() {
    table.map(G1, 0x1000, K4, RW, CPU);

    UnmapResult result = table.unmap(G1, G1, CPU);

    assertThat(result.freedTables()).extracting(TablePage::level).containsExactly(2, 1);
    assertThat(result.unmappedSize()).isEqualTo(G1);
  }

  @Test
  void fiveLevelsTranslate57BitAddresses() {
    IoPageTable fiveLevels = new IoPageTable(PageTableFormat.vtdSecondStage(5, 2), listener);
    long iova = 0x1ab_cdef_0123_4000L;

    assertThat(fiveLevels.map(iova, 0x7000, K4, RW, CPU).status()).isEqualTo(OpStatus.OK);
    assertThat(fiveLevels.translate(iova + 0x10)).isEqualTo(0x7010);
    assertThat(fiveLevels.liveTablePages()).isEqualTo(5);
    assertThat(fiveLevels.levels()).isEqualTo(5);
    // intel_iommu_map(): "iommu width (48) is not sufficient for the mapped address", -EFAULT.
    assertThat(table.map(iova, 0x7000, K4, RW, CPU).status()).isEqualTo(OpStatus.OUT_OF_RANGE);
    assertThat(
            new IoPageTable(PageTableFormat.vtdSecondStage(3, 2), listener)
                .map(1L << 39, 0, K4, RW, CPU)
                .status())
        .isEqualTo(OpStatus.OUT_OF_RANGE);
  }

  @Test
  void withoutSuperpageSupportEverythingIs4K() {
    IoPageTable noSuperpages = new IoPageTable(PageTableFormat.vtdSecondStage(4, 0), listener);

    noSuperpages.map(M2, M2, M2, RW, CPU);

    assertThat(mappings(noSuperpages)).hasSize(512);
  }

  @Test
  void rejectsWhatTheKernelRejects() {
    assertThat(table.map(0x1800, 0, K4, RW, CPU).status()).isEqualTo(OpStatus.UNALIGNED);
    assertThat(table.map(0x1000, 0x800, K4, RW, CPU).status()).isEqualTo(OpStatus.UNALIGNED);
    assertThat(table.map(0x1000, 0, K4, 0, CPU).status()).isEqualTo(OpStatus.NO_PERMISSION);
    assertThat(table.map(-K4, 0, 2 * K4, RW, CPU).status()).isEqualTo(OpStatus.OUT_OF_RANGE);
    assertThat(table.unmap(0x1000, 0x800, CPU).status()).isEqualTo(OpStatus.UNALIGNED);
    assertThat(table.unmap(0x1000, 0x800, CPU).unmappedSize()).isZero();
    assertThat(table.liveTablePages()).isEqualTo(1);
  }
}
