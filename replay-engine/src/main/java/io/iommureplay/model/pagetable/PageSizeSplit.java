package io.iommureplay.model.pagetable;

/**
 * The IOMMU core's rule for cutting a map or unmap request into page sizes: Linux
 * drivers/iommu/iommu.c {@code iommu_pgsize()}, called in a loop by {@code __iommu_map()} and
 * {@code __iommu_unmap()} (unmap passes the IOVA as both addresses).
 *
 * <p>Sizes are unsigned 64-bit values, as {@code size_t} is.
 */
public final class PageSizeSplit {

  private PageSizeSplit() {}

  /**
   * The page size {@code iommu_pgsize()} picks: the largest size in {@code pageSizes} that is no
   * larger than {@code size} and to which {@code iova | paddr} is aligned.
   *
   * @throws IllegalArgumentException when no size fits (the kernel's {@code BUG_ON(!pgsizes)});
   *     callers check alignment to the smallest page size first, so this cannot happen to them
   */
  public static long pageSize(long pageSizes, long iova, long paddr, long size) {
    long candidates = pageSizes & bitsUpTo(63 - Long.numberOfLeadingZeros(size));
    long addressMerge = iova | paddr;
    if (addressMerge != 0) {
      candidates &= bitsUpTo(Long.numberOfTrailingZeros(addressMerge));
    }
    if (candidates == 0) {
      throw new IllegalArgumentException(
          "no page size fits iova 0x%x paddr 0x%x size 0x%x".formatted(iova, paddr, size));
    }
    return Long.highestOneBit(candidates);
  }

  /**
   * The count half of {@code iommu_pgsize()}: how many pages of {@code pageSize} to map in one
   * driver call. It stops at the boundary where the next larger supported size could take over, if
   * a page of that size would fit there and {@code iova} and {@code paddr} share the offset within
   * it; otherwise it covers the whole remaining {@code size}.
   */
  public static long pageCount(long pageSizes, long iova, long paddr, long size, long pageSize) {
    long larger = pageSizes & ~bitsUpTo(Long.numberOfTrailingZeros(pageSize));
    long span = size;
    if (larger != 0) {
      long next = Long.lowestOneBit(larger);
      if (((iova ^ paddr) & (next - 1)) == 0) {
        long toBoundary = next - ((iova | paddr) & (next - 1));
        if (Long.compareUnsigned(toBoundary + next, size) <= 0) {
          span = toBoundary;
        }
      }
    }
    return span >>> Long.numberOfTrailingZeros(pageSize);
  }

  /** GENMASK(bit, 0). */
  private static long bitsUpTo(int bit) {
    return bit >= 63 ? -1L : (1L << (bit + 1)) - 1;
  }
}
