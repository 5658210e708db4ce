package io.iommureplay.model.pagetable;

/** Receives live mappings in IOVA order; see {@link IoPageTable#forEachMapping(MappingVisitor)}. */
@FunctionalInterface
public interface MappingVisitor {

  /**
   * One page, or the part of a large page one entry maps when its replicated entries disagree (AMD,
   * after a smaller page was mapped over one replica).
   *
   * @param prot the {@code IOMMU_READ}/{@code IOMMU_WRITE}/... bits the mapping was made with
   */
  void mapping(long iova, long paddr, long size, int prot);
}
