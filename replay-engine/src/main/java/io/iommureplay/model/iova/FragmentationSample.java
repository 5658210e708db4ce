package io.iommureplay.model.iova;

/**
 * The free space of an allocator below a limit, at one moment. Reserved and cached pages count as
 * allocated (the allocator cannot hand them out); they are also given on their own.
 *
 * @param windowPages pages from the allocator's first usable pfn to the limit
 * @param allocatedPages pages held: live, reserved, and (Linux) sitting in the per-CPU caches
 * @param reservedPages of those, reserved (reserve_iova, dma_ops_reserve_addresses)
 * @param cachedPages of those, free but parked in per-CPU caches or the depot
 * @param freePages pages an allocation could still get
 * @param holes runs of free pages
 * @param largestHole the longest run
 * @param largestHoleBelow4G the longest run below 4 GiB
 */
public record FragmentationSample(
    long windowPages,
    long allocatedPages,
    long reservedPages,
    long cachedPages,
    long freePages,
    long holes,
    long largestHole,
    long largestHoleBelow4G) {

  /** 1 − largest hole / free space: 0 when all free space is one run (or there is none). */
  public double fragmentationIndex() {
    return freePages == 0 ? 0 : 1 - (double) largestHole / freePages;
  }

  /** No hole below 4 GiB is long enough for {@code pages} (alignment aside): IOVA32_EXHAUSTED. */
  public boolean iova32Exhausted(long pages) {
    return largestHoleBelow4G < pages;
  }
}
