package io.iommureplay.model.iova;

import static io.iommureplay.model.iova.IovaAllocator.FAILED;

/**
 * How dma-iommu.c iommu_dma_alloc_iova() asks its domain's allocator for one device. A PCI device
 * (unless iommu.forcedac=1) whose DMA mask reaches above 4 GiB first tries a 32-bit IOVA without
 * draining the caches (alloc_iova_fast(..., DMA_BIT_MASK(32) >> shift, false)), then the full mask
 * with flush_rcache set, which drains the per-CPU caches and retries only if the rbtree has no
 * room. Since v6.4 ("iommu: Optimise PCI SAC address trick") the first failed 32-bit attempt turns
 * the 32-bit tries off for the device for good (dev->iommu->pci_32bit_workaround); before, every
 * allocation tries 32 bits first.
 */
public final class DmaIommuIovaPolicy {
  private final IovaAllocator allocator;
  private final long dma32LimitPfn;
  private final boolean sticky;
  private boolean pci32BitWorkaround;

  /**
   * @param allocator the device's domain allocator (shared by the devices of the domain)
   * @param profile which kernel's fallback rule applies ({@link
   *     KernelProfile#stickyPciSacFallback()})
   * @param granuleShift log2 of the domain's granule
   * @param pciDevice dev_is_pci(dev)
   * @param forcedac iommu.forcedac=1
   */
  public DmaIommuIovaPolicy(
      IovaAllocator allocator,
      KernelProfile profile,
      int granuleShift,
      boolean pciDevice,
      boolean forcedac) {
    this.allocator = allocator;
    this.dma32LimitPfn = (1L << (32 - granuleShift)) - 1;
    this.sticky = profile.stickyPciSacFallback();
    this.pci32BitWorkaround = pciDevice && !forcedac;
  }

  /** iommu_dma_alloc_iova() of {@code pages} granules under the device's DMA limit (in pfns). */
  public long allocIova(long pages, long dmaLimitPfn, int cpu, long nowNs) {
    if (dmaLimitPfn > dma32LimitPfn && pci32BitWorkaround) {
      long pfn = allocator.tryAllocate(pages, dma32LimitPfn, cpu, nowNs);
      if (pfn != FAILED) return pfn;
      if (sticky)
        pci32BitWorkaround = false; // dev_notice(dev, "Using %d-bit DMA addresses\n", ...)
    }
    return allocator.allocate(pages, dmaLimitPfn, cpu, nowNs);
  }

  /** The device still tries 32-bit IOVAs first. */
  public boolean tries32BitFirst() {
    return pci32BitWorkaround;
  }
}
