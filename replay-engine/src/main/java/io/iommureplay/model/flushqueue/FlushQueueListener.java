package io.iommureplay.model.flushqueue;

/**
 * What a {@link FlushQueue} makes its owner do, synchronously and in the kernel's order. A listener
 * must not call back into the queue.
 */
public interface FlushQueueListener {

  /**
   * Flush the domain's whole IOTLB now ({@code fq_flush_iotlb()} → {@code flush_iotlb_all}): every
   * flush the queue decides on itself — all of them when predicting; when following a trace, only
   * one it was forced into (a full ring) or an own timer. The releases it allows follow.
   */
  default void flush(FlushReason reason) {}

  /**
   * Free the page-table pages an unmap put on this entry's freelist ({@code
   * iommu_put_pages_list()}).
   */
  default void tablePagesReleased(long freelist) {}

  /**
   * Give the entry's IOVA range back to the allocator ({@code free_iova_fast()}); after its table
   * pages.
   */
  default void iovaReleased(long pfn, long pages) {}
}
