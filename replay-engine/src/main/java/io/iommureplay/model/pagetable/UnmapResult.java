package io.iommureplay.model.pagetable;

import java.util.List;

/**
 * What {@link IoPageTable#unmap} did.
 *
 * @param status OK or {@link OpStatus#UNALIGNED}
 * @param unmappedSize the {@code unmapped_size} the kernel reports (trace_unmap): may exceed the
 *     requested size (VT-d rounding, AMD whole large pages), be short of it (a hole, an ARM block
 *     it refused to split), and counts holes some drivers walk over (VT-d, AMD level-1 slots)
 * @param removedBytes live mapped bytes that stopped translating
 * @param removedOutsideRange of {@code removedBytes}, those outside the requested range
 * @param notMappedBytes bytes of the requested range that were not mapped before the call
 * @param partialLargePage what became of a large page the requested range only partly covered
 * @param freedTables tables unlinked because the cleared range covered their whole span, parents
 *     before children; the caller holds them as {@code freeTiming} says
 * @param freeTiming when {@code freedTables} are freed
 */
public record UnmapResult(
    OpStatus status,
    long unmappedSize,
    long removedBytes,
    long removedOutsideRange,
    long notMappedBytes,
    PartialLargePage partialLargePage,
    List<TablePage> freedTables,
    TableFreeTiming freeTiming) {

  /** A large page the requested range covers only in part. */
  public enum PartialLargePage {
    NONE,
    /**
     * VT-d {@code intel_iommu_unmap()} size round-up, AMD {@code iommu_v1_unmap_pages()}: all of it
     * went.
     */
    REMOVED_WHOLE,
    /** ARM {@code __arm_lpae_unmap()}: "Unmap of a partial large IOPTE is not allowed", 0 bytes. */
    REFUSED,
    /**
     * VT-d range starting inside a superpage: {@code dma_pte_clear_level()} recurses into the
     * superpage's data page as if it were a table; the superpage stays mapped.
     */
    LEFT_MAPPED
  }

  static UnmapResult unaligned(TableFreeTiming freeTiming) {
    return new UnmapResult(
        OpStatus.UNALIGNED, 0, 0, 0, 0, PartialLargePage.NONE, List.of(), freeTiming);
  }
}
