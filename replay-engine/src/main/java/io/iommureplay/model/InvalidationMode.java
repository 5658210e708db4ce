package io.iommureplay.model;

/**
 * Whether unmaps are flushed before they return (strict, iommu.strict=1, domain type DMA) or go
 * through the flush queue (lazy, iommu.strict=0, DMA_FQ). AUTO decides per domain from the trace: a
 * domain whose unmaps are queued (FQ_ENQUEUE) is lazy, one whose unmaps are followed by an
 * iotlb_sync is strict (dma-iommu.c __iommu_dma_unmap).
 */
public enum InvalidationMode {
  AUTO,
  STRICT,
  LAZY
}
