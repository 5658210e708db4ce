package io.iommureplay.model.iotlb;

import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IotlbInvalidation;
import java.util.List;

/**
 * What the Intel VT-d driver submits for a page-selective flush of pages {@code [startPfn,
 * endPfn]}. One descriptor covers 2^AM 4 KiB pages at a base aligned to 2^AM pages (VT-d spec
 * 6.5.2.3, address mask); the driver picks AM by a {@link Rule} that changed between kernels, and
 * falls back to a domain-selective flush when AM exceeds the hardware's maximum, CAP_REG.MAMV
 * ({@code cap_max_amask_val()}). Over-invalidation is harmless; a rule that leaves part of the
 * range out (ROUND_UP) lets stale entries survive, which the model then shows as a partial flush.
 */
public final class PsiAlignment {

  /** How AM is chosen for a range. */
  public enum Rule {
    /**
     * AM = ilog2(__roundup_pow_of_two(pages)), base = the start aligned down to 2^AM pages: a range
     * crossing a 2^AM boundary loses its end. Linux 6.1 {@code qi_flush_piotlb()} (the PASID-based
     * flush of first-stage domains, which ALIGN_DOWNs the address after a WARN_ON_ONCE), and
     * second-stage {@code iommu_flush_iotlb_psi()} before v5.18.
     */
    ROUND_UP,
    /**
     * As ROUND_UP, then, if the start is not aligned to 2^AM, AM is raised to the lowest bit above
     * the rounded size where start and end pfn agree ({@code __ffs(shared_bits)}): the descriptor
     * always covers the range. Second-stage {@code iommu_flush_iotlb_psi()} since v5.18 (commit
     * 59bf3557cf2f, "Calculate mask for non-aligned flushes"; so in 6.1), and {@code
     * calculate_psi_aligned_address()} in drivers/iommu/intel/cache.c (6.10+), for both stages.
     * When no bit agrees, 6.1 uses BITS_PER_LONG and cache.c MAX_AGAW_PFN_WIDTH: both exceed any
     * real MAMV, so the flush is domain-selective; the model uses {@link #WHOLE_SPACE}.
     */
    SHARED_BITS
  }

  /** MAX_AGAW_PFN_WIDTH: the address mask of the whole 64-bit space. */
  public static final int WHOLE_SPACE = 52;

  /** MAMV of QEMU's emulated VT-d (VTD_MAMV in hw/i386/intel_iommu_internal.h). */
  public static final int QEMU_MAMV = 18;

  private static final int PAGE_SHIFT = IotlbModel.PAGE_SHIFT;

  private final Rule rule;
  private final int maxAddressMask;

  /**
   * @param maxAddressMask MAMV; {@link #WHOLE_SPACE} where the path has no fallback (the 6.1
   *     first-stage {@code qi_flush_piotlb()} does not check it)
   */
  public PsiAlignment(Rule rule, int maxAddressMask) {
    if (maxAddressMask < 0 || maxAddressMask > WHOLE_SPACE) {
      throw new IllegalArgumentException("address mask limit " + maxAddressMask);
    }
    this.rule = rule;
    this.maxAddressMask = maxAddressMask;
  }

  /** The AM the rule picks for pages {@code [startPfn, endPfn]}, before the MAMV check. */
  public int addressMask(long startPfn, long endPfn) {
    if (startPfn < 0 || endPfn < startPfn || endPfn >>> WHOLE_SPACE != 0) {
      throw new IllegalArgumentException("pfn range 0x%x..0x%x".formatted(startPfn, endPfn));
    }
    int mask =
        64 - Long.numberOfLeadingZeros(endPfn - startPfn); // ilog2(__roundup_pow_of_two(pages))
    if (rule == Rule.SHARED_BITS && (startPfn & (1L << mask) - 1) != 0) {
      // end_pfn <= pfn + bitmask: above bitmask, pfn and end_pfn differ only by a carry, so from
      // the lowest bit they share upwards they agree.
      long sharedBits = ~(startPfn ^ endPfn) & -(1L << mask);
      mask = Math.min(Long.numberOfTrailingZeros(sharedBits), WHOLE_SPACE);
    }
    return mask;
  }

  /**
   * The descriptor for pages {@code [startPfn, endPfn]}: page-selective with the rule's AM, or, if
   * AM exceeds MAMV, domain-selective (IH does not apply to it: VT-d spec 6.5.2.3; cache.c clears
   * it).
   */
  public IotlbInvalidation pageSelective(long startPfn, long endPfn, boolean leafOnly) {
    int mask = addressMask(startPfn, endPfn);
    if (mask > maxAddressMask) {
      return invalidation(FlushScope.DOMAIN, 0, 0, -1, false);
    }
    long size = 1L << PAGE_SHIFT << mask; // 2^64 wraps to 0, as QiDescriptorDecoder writes it
    return invalidation(FlushScope.PAGE, startPfn << PAGE_SHIFT & -size, size, mask, leafOnly);
  }

  /**
   * What the driver flushes when a strict unmap of {@code [iova, iova + size)} returns: {@code
   * iommu_unmap()} gathers the range and {@code intel_iommu_tlb_sync()} flushes its pages ({@code
   * aligned_nrpages()}), with IH=1 only when the gather freed no table page ({@code
   * list_empty(&gather->freelist)}); 6.10+ does the same through {@code cache_tag_flush_range()}.
   */
  public IotlbInvalidation strictUnmap(long iova, long size, boolean tablesFreed) {
    IotlbInvalidation inv =
        pageSelective(iova >>> PAGE_SHIFT, iova + size - 1 >>> PAGE_SHIFT, !tablesFreed);
    inv.setTrigger(FlushTrigger.SYNC);
    return inv;
  }

  private static IotlbInvalidation invalidation(
      FlushScope scope, long iova, long size, int mask, boolean leafOnly) {
    return new IotlbInvalidation(
        scope, iova, size, mask, leafOnly, null, null, null, null, FlushTrigger.UNKNOWN, List.of());
  }
}
