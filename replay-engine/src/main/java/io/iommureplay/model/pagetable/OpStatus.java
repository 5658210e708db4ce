package io.iommureplay.model.pagetable;

/** How a map or unmap call ended, with the kernel's error where it has one. */
public enum OpStatus {
  /**
   * Done (VT-d still returns success when it kept an old PTE: see {@link
   * MapResult#keptOldBytes()}).
   */
  OK,
  /**
   * iova, paddr (map only) or size not aligned to the smallest page size: {@code __iommu_map()}
   * returns -EINVAL, {@code __iommu_unmap()} returns 0; nothing changes.
   */
  UNALIGNED,
  /** Neither read nor write permission: -EINVAL from every driver's map; nothing changes. */
  NO_PERMISSION,
  /**
   * The range does not fit the address space (VT-d {@code intel_iommu_map()} -EFAULT, ARM {@code
   * arm_lpae_map_pages()} -ERANGE, AMD beyond {@code amd_iommu_hpt_level}), the size wraps around,
   * or the physical range reaches past the model's 52-bit physical addresses.
   */
  OUT_OF_RANGE,
  /**
   * ARM -EEXIST: a leaf was in the way. {@code __iommu_map()} then unmaps what this call had
   * mapped, so nothing of it stays.
   */
  EXISTS
}
