package io.iommureplay.model.iova;

import static io.iommureplay.model.iova.IovaAllocator.FAILED;
import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.iova.LinuxIovaAllocator.Adoption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Hand-worked examples of drivers/iommu/iova.c, each citing the function its rule comes from. */
class LinuxIovaAllocatorTest {
  private static final long LIMIT32 = 0xfffff; // DMA_BIT_MASK(32) >> 12
  private static final long LIMIT48 = (1L << 36) - 1;
  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

  /** Two-pfn magazines make the loaded/prev/depot moves easy to follow by hand. */
  private static final KernelProfile TINY_6_1 = new KernelProfile("tiny-6.1", 2, 1, 0, false);

  private static final KernelProfile TINY_6_7 =
      new KernelProfile("tiny-6.7", 2, KernelProfile.UNBOUNDED, 100 * MS, true);

  private static LinuxIovaAllocator allocator(KernelProfile profile, int cpus) {
    return new LinuxIovaAllocator(profile, cpus, 12, 1); // 4 KiB granule, start_pfn 1 as dma-iommu
  }

  @Test
  void placesTopDownAlignedToTheRoundedUpSize() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);

    // __alloc_and_insert_iova_range(): new_pfn = (high_pfn - size) & align_mask, align_mask
    // from fls_long(size - 1); high_pfn starts at limit_pfn + 1 and drops to the cached node.
    assertThat(a.allocIova(1, LIMIT32, true, 0)).isEqualTo(0xfffff);
    assertThat(a.allocIova(4, LIMIT32, true, 0)).isEqualTo(0xffff8); // (0xfffff - 4) & ~3
    assertThat(a.allocIova(3, LIMIT32, true, 0)).isEqualTo(0xffff4); // aligned to 4, 3 pages used
    assertThat(a.allocIova(3, LIMIT32, false, 0)).isEqualTo(0xffff1); // unaligned: right below
    // alloc_iova_fast() rounds sizes under 32 pages up: 3 pages take a 4-page range.
    assertThat(a.allocIovaFast(3, LIMIT32, false, 0, 0)).isEqualTo(0xfffec);
    assertThat(a.allocIova(1, LIMIT32, true, 0)).isEqualTo(0xfffeb);
    // 33 pages are not rounded (only sizes under 32 are) but aligned to 64: (0xfffeb - 33) & ~63.
    assertThat(a.allocIovaFast(33, LIMIT32, false, 0, 0)).isEqualTo(0xfffc0);
  }

  @Test
  void requestsUpTo4GiBStartBelowTheirOwnCachedNode() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);

    // __get_cached_rbnode(): limits up to dma_32bit_pfn use cached32_node, others cached_node;
    // __cached_rbnode_insert_update() sets the one the new range lies under.
    long a32 = a.allocIova(1, LIMIT32, true, 0);
    long a64 = a.allocIova(1, LIMIT48, true, 0);
    long b32 = a.allocIova(1, LIMIT32, true, 0);
    long b64 = a.allocIova(1, LIMIT48, true, 0);
    assertThat(new long[] {a32, a64, b32, b64})
        .containsExactly(0xfffff, LIMIT48, 0xffffe, LIMIT48 - 1);
  }

  @Test
  void aFreeAtOrAboveTheCachedNodeMovesItToTheNextRange() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);
    long top = a.allocIova(1, LIMIT32, true, 0);
    long middle = a.allocIova(1, LIMIT32, true, 0);
    a.allocIova(1, LIMIT32, true, 0); // 0xffffd, now cached32_node

    // __cached_rbnode_delete_update(): freeing 0xffffe (at or above the cached node) moves the
    // cached node to rb_next(0xffffe) = 0xfffff, so the walk finds the hole at once.
    a.freeIova(middle, 0);
    assertThat(a.allocIova(1, LIMIT32, true, 0)).isEqualTo(middle);
    // The reused range is the cached node now: the next walk starts under it.
    assertThat(a.allocIova(1, LIMIT32, true, 0)).isEqualTo(0xffffc);
    assertThat(top).isEqualTo(0xfffff);
  }

  @Test
  void searchesOnceMoreAboveTheCachedNodeWhenNothingFitsBelowIt() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);
    a.reserve(1, 0xffff7); // leaves [0xffff8, 0xfffff]
    a.allocIova(1, LIMIT32, true, 0); // 0xfffff
    long hole = a.allocIova(1, LIMIT32, true, 0); // 0xffffe
    a.allocIova(1, LIMIT32, true, 0); // 0xffffd
    a.freeIova(hole, 0); // cached32_node moves up to 0xfffff
    assertThat(a.allocIova(2, LIMIT32, true, 0)).isEqualTo(0xffffa); // too big for the hole
    assertThat(a.allocIova(2, LIMIT32, true, 0)).isEqualTo(0xffff8); // cached32_node now 0xffff8

    // Nothing below 0xffff8: __alloc_and_insert_iova_range() retries once from the limit down to
    // just above the cached node (retry_pfn + 1) and finds the hole at 0xffffe.
    assertThat(a.allocIova(1, LIMIT32, true, 0)).isEqualTo(hole);
    assertThat(a.allocIova(1, LIMIT32, true, 0)).isEqualTo(0xffffc);
    assertThat(a.allocIova(1, LIMIT32, true, 0)).isEqualTo(FAILED);
  }

  /** Free below 4 GiB: [0xffff5, 0xffff8], four pages not aligned to 4. */
  private static LinuxIovaAllocator unalignedHoleOfFour() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);
    a.reserve(1, 0xffff4);
    a.reserve(0xffff9, 0xfffff);
    return a;
  }

  @Test
  void aFailed32BitRequestFailsLaterOnesAsBigAtOnceUntilSomethingBelow4GiBIsFreed() {
    LinuxIovaAllocator a = unalignedHoleOfFour();

    assertThat(a.allocIova(4, LIMIT32, true, 0)).isEqualTo(FAILED); // max32_alloc_size = 4
    // An unaligned 4-page request fits the hole, but __alloc_and_insert_iova_range() fails it
    // before any search: size >= max32_alloc_size.
    assertThat(unalignedHoleOfFour().allocIova(4, LIMIT32, false, 0)).isEqualTo(0xffff5);
    assertThat(a.allocIova(4, LIMIT32, false, 0)).isEqualTo(FAILED);
    // Smaller requests still search.
    assertThat(a.allocIova(3, LIMIT32, false, 0)).isEqualTo(0xffff6);
    // remove_iova() of anything starting below 4 GiB resets max32_alloc_size.
    a.freeIova(0xffff6, 0);
    assertThat(a.allocIova(4, LIMIT32, false, 0)).isEqualTo(0xffff5);

    AllocatorStats stats = a.stats();
    assertThat(stats.failures()).isEqualTo(2);
    assertThat(stats.iova32Failures()).isEqualTo(2);
    assertThat(stats.fragmentedFailures()).isEqualTo(2); // four free pages were there both times
  }

  @Test
  void freedIovasComeBackLastInFirstOutOnTheFreeingCpuOnly() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 2);
    long p1 = a.allocate(1, LIMIT32, 0, 0);
    long p2 = a.allocate(1, LIMIT32, 0, 0);
    long p3 = a.allocate(1, LIMIT32, 0, 0);
    a.free(p1, 1, 0, 0);
    a.free(p2, 1, 0, 0);
    a.free(p3, 1, 0, 0);

    // iova_rcache_insert() pushes onto CPU 0's loaded magazine; iova_magazine_pop() takes from
    // the top. CPU 1 has its own magazines: it misses and goes to the rbtree, where the cached
    // pfns still look allocated.
    assertThat(a.allocate(1, LIMIT32, 1, 0)).isEqualTo(0xffffc);
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(p3);
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(p2);
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(p1);
    assertThat(a.stats().cacheHits()).isEqualTo(3);
    assertThat(a.stats().reuseDistance().max())
        .isEqualTo(3); // three other allocations before p1 came back
  }

  @Test
  void aPopTakesTheTopmostPfnUnderTheLimitAndMissesIfNoneIs() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);
    long high = a.allocate(1, LIMIT32, 0, 0);
    long low = a.allocate(1, 0xfff, 0, 0);
    a.free(low, 1, 0, 0);
    a.free(high, 1, 0, 0);

    // __iova_rcache_get(rcache, limit_pfn - size) → iova_magazine_pop(): searches down from the
    // top for a pfn under the limit and fills its slot with the top one.
    assertThat(a.allocate(1, 0xfff, 0, 0)).isEqualTo(low);
    assertThat(a.cachedOnCpu(0, 0)).isEqualTo(1);
    // Only the high pfn left: a request limited to 0xfff misses and the rbtree serves it.
    assertThat(a.allocate(1, 0xfff, 0, 0)).isEqualTo(0xffe);
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(high);
  }

  @Test
  void fullMagazinesSwapWithPrevThenGoToTheDepotOrBackToTheRbtreeWhenItIsFull() {
    LinuxIovaAllocator a = allocator(TINY_6_1, 1);
    long[] p = new long[7];
    for (int i = 0; i < 7; i++) p[i] = a.allocate(1, LIMIT32, 0, 0); // 0xfffff down to 0xffff9
    for (int i = 0; i < 7; i++) a.free(p[i], 1, 0, 0);

    // __iova_rcache_insert(): loaded {p0 p1} full → swap with the empty prev, push p2; {p2 p3}
    // full and prev full → loaded to the depot, new loaded {p4 p5}; full again with the depot
    // (MAX_GLOBAL_MAGS 1 here) full → that magazine's pfns go back to the rbtree; loaded {p6}.
    assertThat(a.depotMagazines(0)).isEqualTo(1);
    assertThat(a.cachedOnCpu(0, 0)).isEqualTo(3); // p6; prev p0 p1
    assertThat(a.isLive(p[4])).isFalse();
    assertThat(a.allocIova(2, LIMIT32, true, 0)).isEqualTo(p[5]); // p4 and p5 are free again

    // __iova_rcache_get(): loaded, then the non-empty prev (swapped in), then a depot magazine.
    long[] popped = new long[5];
    for (int i = 0; i < 5; i++) popped[i] = a.allocate(1, LIMIT32, 0, 0);
    assertThat(popped).containsExactly(p[6], p[1], p[0], p[3], p[2]);
    assertThat(a.depotMagazines(0)).isZero();
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(0xffff8); // all caches empty: rbtree
  }

  @Test
  void theV67DepotIsUnboundedAndTrimmedEvery100MsWhileItHoldsMoreMagazinesThanCpus() {
    LinuxIovaAllocator a = allocator(TINY_6_7, 1);
    long[] p = new long[10];
    for (int i = 0; i < 10; i++) p[i] = a.allocate(1, LIMIT32, 0, 0);
    for (int i = 0; i < 10; i++) a.free(p[i], 1, 0, 0);
    // prev {p0 p1}; depot {p2 p3} {p4 p5} {p6 p7}; loaded {p8 p9}. No cap: nothing went back.
    assertThat(a.depotMagazines(0)).isEqualTo(3);

    // iova_depot_work_func(), scheduled IOVA_DEPOT_DELAY after the first push: while the depot
    // holds more magazines than the one online CPU, the newest goes back to the rbtree, every
    // 100 ms.
    a.free(a.allocate(1, LIMIT32, 0, 99 * MS), 1, 0, 99 * MS);
    assertThat(a.depotMagazines(0)).isEqualTo(3);
    a.allocate(64, LIMIT32, 0, 100 * MS); // any call runs the work that is due
    assertThat(a.depotMagazines(0)).isEqualTo(2);
    assertThat(a.isLive(p[6])).isFalse();
    a.allocate(64, LIMIT32, 0, 250 * MS);
    assertThat(a.depotMagazines(0)).isEqualTo(1);
    a.allocate(64, LIMIT32, 0, 900 * MS);
    assertThat(a.depotMagazines(0)).isEqualTo(1); // not more than the CPUs: the work stops
  }

  @Test
  void orderSixAndUpBypassesTheCaches() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);
    long big = a.allocate(64, LIMIT32, 0, 0);
    long odd = a.allocate(33, LIMIT32, 0, 0); // order_base_2(33) = 6
    long cached = a.allocate(32, LIMIT32, 0, 0); // order 5, the largest cached class
    a.free(big, 64, 0, 0);
    a.free(odd, 33, 0, 0);
    a.free(cached, 32, 0, 0);

    // iova_rcache_insert() refuses order 6 and up: free_iova() gives them straight back.
    assertThat(a.isLive(big)).isFalse();
    assertThat(a.isLive(odd)).isFalse();
    assertThat(a.cachedOnCpu(5, 0)).isEqualTo(1);
    assertThat(a.allocate(64, LIMIT32, 0, 0)).isEqualTo(big); // from the rbtree, same place
    assertThat(a.allocate(32, LIMIT32, 0, 0)).isEqualTo(cached); // from the cache
    assertThat(a.stats().cacheHits()).isEqualTo(1);
  }

  @Test
  void flushRcacheDrainsEveryCacheAndRetriesOnce() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 2);
    a.reserve(1, 0xffff7); // eight pages left
    for (int i = 0; i < 8; i++)
      a.free(a.allocate(1, LIMIT32, 0, 0), 1, 1, 0); // all parked on CPU 1

    // Cached IOVAs look allocated: without flush_rcache the 8-page request fails.
    assertThat(a.tryAllocate(8, LIMIT32, 0, 0)).isEqualTo(FAILED);
    assertThat(a.fragmentation(LIMIT32).cachedPages()).isEqualTo(8);
    // alloc_iova_fast(..., flush_rcache = true): free_cpu_cached_iovas() on every CPU,
    // free_global_cached_iovas(), then alloc_iova() again.
    assertThat(a.allocate(8, LIMIT32, 0, 0)).isEqualTo(0xffff8);
    assertThat(a.cachedOnCpu(0, 1)).isZero();
  }

  @Test
  void adoptTakesTheKernelsPfnFromTheCacheOrTheRbtree() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);
    long[] p = new long[4];
    for (int i = 0; i < 4; i++) p[i] = a.allocate(1, LIMIT32, 0, 0);
    for (int i = 0; i < 3; i++) a.free(p[i], 1, 0, 0); // loaded {p0 p1 p2}; p3 live

    // The kernel popped p1 where the model popped p2 above it: the kernel's magazine lacks p2
    // there (an allocation the trace missed took it). p2 stays allocated, p1 leaves the cache.
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(p[2]);
    assertThat(a.adopt(p[1], 1, 0, 0)).isEqualTo(Adoption.FROM_CACHE);
    assertThat(a.isLive(p[2])).isTrue();
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(p[0]);

    // The kernel's pfn is free in the model's rbtree: the model's own range is given back, the
    // kernel's allocated there, and the cached node is where the kernel's allocation put it.
    long model = a.allocate(1, LIMIT32, 0, 0);
    assertThat(a.adopt(0x10, 1, 0, 0)).isEqualTo(Adoption.FROM_RBTREE);
    assertThat(a.isLive(model)).isFalse();
    assertThat(a.allocate(1, LIMIT32, 0, 0)).isEqualTo(0xf);

    // The kernel hands out p3 again, which the model never saw freed: a missed free. The model's
    // pick (0xf) is undone.
    assertThat(a.adopt(p[3], 1, 0, 0)).isEqualTo(Adoption.ALREADY_ALLOCATED);
    assertThat(a.isLive(0xf)).isFalse();
  }

  @Test
  void countsGlobalLockAcquisitions() {
    LinuxIovaAllocator a = allocator(KernelProfile.LINUX_6_1, 1);
    long pfn =
        a.allocate(1, LIMIT32, 0, 0); // cache miss: loaded and prev empty → depot lock, rbtree lock
    a.free(pfn, 1, 0, 0); // into the magazine: no global lock
    a.allocate(1, LIMIT32, 0, 0); // hit: none
    a.free(a.allocate(64, LIMIT32, 0, 0), 64, 0, 0); // order 6: rbtree lock twice

    assertThat(a.stats().globalLockAcquisitions()).isEqualTo(4);
    assertThat(a.stats().cacheHitRate()).isEqualTo(1.0 / 3);
  }
}
