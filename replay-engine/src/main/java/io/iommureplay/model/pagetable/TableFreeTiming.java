package io.iommureplay.model.pagetable;

/** When a table page unlinked from the tree goes back to the page allocator. */
public enum TableFreeTiming {
  /**
   * At once, before any IOTLB or paging-structure-cache flush covers it: VT-d {@code
   * switch_to_super_page()} → {@code dma_pte_free_pagetable()} frees the small-page tables a
   * superpage map replaces, then flushes. A walker or cached walk may still use the page.
   */
  IMMEDIATE,
  /**
   * Inside the same driver call, after the driver's own flush: ARM {@code __arm_lpae_unmap()}
   * ({@code io_pgtable_tlb_flush_walk()} then {@code __arm_lpae_free_pgtable()}), AMD {@code
   * iommu_v1_map_pages()} ({@code amd_iommu_domain_flush_pages()} then {@code
   * iommu_put_pages_list()}).
   */
  AFTER_DRIVER_FLUSH,
  /**
   * Put on the gather freelist (VT-d {@code domain_unmap()}); the caller frees it after {@code
   * iommu_iotlb_sync()}, or with its flush-queue entry in lazy mode.
   */
  AFTER_CALLER_FLUSH
}
