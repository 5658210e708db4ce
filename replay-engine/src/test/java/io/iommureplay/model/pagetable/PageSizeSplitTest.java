package io.iommureplay.model.pagetable;

import static io.iommureplay.model.pagetable.PageTableTesting.G1;
import static io.iommureplay.model.pagetable.PageTableTesting.K4;
import static io.iommureplay.model.pagetable.PageTableTesting.M2;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import org.junit.jupiter.api.Test;

/**
 * Hand-worked {@code iommu_pgsize()} (drivers/iommu/iommu.c) results, as {@code __iommu_map()}
 * asks.
 */
class PageSizeSplitTest {

  private static final long VTD = K4 | M2 | G1;
  private static final long AMD = PageTableFormat.amdV1().pageSizes();

  @Test
  void mapOf0x1ff000Plus0x402000WithMatchingPaddrTakesTwo2MPagesInTheMiddle() {
    // Step 1: iova|paddr is only 4K-aligned; a 2M page would fit after 0x1000, so count stops
    // there.
    assertThat(split(VTD, 0x1ff000, 0x401ff000, 0x402000)).containsExactly(K4, 1);
    // Step 2: 2M-aligned; 1G does not fit, so every remaining 2M page goes in one call.
    assertThat(split(VTD, 0x200000, 0x40200000, 0x401000)).containsExactly(M2, 2);
    assertThat(split(VTD, 0x600000, 0x40600000, 0x1000)).containsExactly(K4, 1);
  }

  @Test
  void paddrOffsetDifferentFromIovaWithinA2MPageForbidsLargePages() {
    // (iova ^ paddr) & (2M - 1) != 0: "no point trying a bigger page size", one call of 0x402
    // pages.
    assertThat(split(VTD, 0x1ff000, 0x40200000, 0x402000)).containsExactly(K4, 0x402);
  }

  @Test
  void smallPagesRunUpToTheNextLargePageBoundaryOnlyIfThatPageFits() {
    assertThat(split(VTD, 0x100000, 0x100000, 0x400000)).containsExactly(K4, 0x100);
    assertThat(split(VTD, 0x100000, 0x100000, 0x200000)).containsExactly(K4, 0x200);
  }

  @Test
  void amdTakesEveryPowerOfTwoOneAtATime() {
    assertThat(split(AMD, 0, 0, 0x3000)).containsExactly(0x2000L, 1);
    assertThat(split(AMD, 0x10000, 0x10000, 0x70000)).containsExactly(0x10000L, 1);
    assertThat(split(AMD, 0x20000, 0x20000, 0x60000)).containsExactly(0x20000L, 1);
    assertThat(split(AMD, 0x40000, 0x40000, 0x40000)).containsExactly(0x40000L, 1);
  }

  @Test
  void amdHasNo512GiBPagesSoAnAligned512GiBRangeTakesTwo256GiBPages() {
    long g512 = 1L << 39;
    assertThat(split(AMD, g512, g512, g512)).containsExactly(1L << 38, 2);
  }

  @Test
  void unmapPassesTheIovaAsBothAddresses() {
    assertThat(split(VTD, M2, M2, 3 * M2)).containsExactly(M2, 3);
  }

  @Test
  void noFittingSizeIsTheKernelsBugOn() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> PageSizeSplit.pageSize(VTD, 0x800, 0, K4));
  }

  private static long[] split(long pageSizes, long iova, long paddr, long size) {
    long pageSize = PageSizeSplit.pageSize(pageSizes, iova, paddr, size);
    return new long[] {pageSize, PageSizeSplit.pageCount(pageSizes, iova, paddr, size, pageSize)};
  }
}
