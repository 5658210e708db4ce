package io.iommureplay.model.iova;

import static io.iommureplay.model.iova.IovaAllocator.FAILED;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The old AMD driver's next-fit bitmap (amd_iommu.c dma_ops_alloc_addresses()), by hand. */
class BitmapIovaAllocatorTest {
  private static final long LIMIT32 = 0xfffff;

  @Test
  void allocatesNextFitWrapsWithAFullFlushAndGrowsTheAperture() {
    BitmapIovaAllocator a = new BitmapIovaAllocator(64, 2); // two 64-page ranges

    // dma_ops_domain_alloc() reserves page 0; iommu_area_alloc() searches from next_address.
    long first = a.allocate(4, LIMIT32, 0, 0);
    long second = a.allocate(8, LIMIT32, 0, 0);
    a.free(first, 4, 0, 0); // below the cursor (13): no flush
    long third = a.allocate(2, LIMIT32, 0, 0); // next-fit: not the hole at 1
    long rest = a.allocate(49, LIMIT32, 0, 0); // 15..63, range 0 full but for 1..4
    assertThat(new long[] {first, second, third, rest}).containsExactly(1, 5, 13, 15);
    assertThat(a.pageFlushes()).isZero();
    assertThat(a.fullFlushes()).isZero();

    // Nothing from the cursor up: dma_ops_alloc_addresses() wraps to 0 (need_flush), and
    // __map_single() ends with domain_flush_tlb().
    assertThat(a.allocate(4, LIMIT32, 0, 0)).isEqualTo(1);
    assertThat(a.lastAllocationWrapped()).isTrue();
    assertThat(a.fullFlushes()).isEqualTo(1);

    // A free at or above the cursor (now 5) flushes its pages at once (__unmap_single()).
    a.free(third, 2, 0, 0);
    assertThat(a.pageFlushes()).isEqualTo(1);

    // 8 pages fit nowhere, even after a wrap: alloc_new_range() adds range 1 and the search
    // starts there; the wrap's need_flush still costs a full flush.
    assertThat(a.allocate(8, LIMIT32, 0, 0)).isEqualTo(64);
    assertThat(a.apertureRanges()).isEqualTo(2);
    assertThat(a.fullFlushes()).isEqualTo(2);
    assertThat(a.allocate(2, LIMIT32, 0, 0)).isEqualTo(72);
    assertThat(a.lastAllocationWrapped()).isFalse();

    AllocatorStats stats = a.stats();
    assertThat(stats.allocations()).isEqualTo(7);
    assertThat(stats.frees()).isEqualTo(2);
    assertThat(stats.globalLockAcquisitions()).isEqualTo(9); // the domain lock, every call
    assertThat(stats.cacheHits()).isZero();
  }

  @Test
  void failsOnceTheApertureCannotGrowAndStopsAtTheDmaMask() {
    BitmapIovaAllocator a = new BitmapIovaAllocator(64, 2);
    assertThat(a.allocate(60, 63, 0, 0)).isEqualTo(1);
    assertThat(a.allocate(4, 63, 0, 0)).isEqualTo(FAILED); // range 1 lies above the mask
    assertThat(a.allocate(64, LIMIT32, 0, 0)).isEqualTo(64);
    assertThat(a.allocate(8, LIMIT32, 0, 0)).isEqualTo(FAILED);

    assertThat(a.stats().failures()).isEqualTo(2);
    assertThat(a.stats().fragmentedFailures()).isZero();
    FragmentationSample sample = a.fragmentation(LIMIT32);
    assertThat(sample.windowPages()).isEqualTo(128);
    assertThat(sample.allocatedPages()).isEqualTo(125);
    assertThat(sample.reservedPages()).isEqualTo(1);
    assertThat(sample.largestHole()).isEqualTo(3);
  }
}
