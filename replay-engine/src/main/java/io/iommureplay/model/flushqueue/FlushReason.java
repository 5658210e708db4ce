package io.iommureplay.model.flushqueue;

/** Why the flush queue flushed the IOTLB (dma-iommu.c {@code fq_flush_iotlb()} callers). */
public enum FlushReason {
  /** {@code fq_flush_timeout()}: the timer armed by the first enqueue of a batch fired. */
  TIMER,
  /** {@code queue_iova()}: the ring was still full after reaping ({@code fq_full()}). */
  FULL
}
