package io.iommureplay.model;

/**
 * A lazy unmap waiting for its queue_iova (the FQ_ENQUEUE the importer makes of its first
 * fq_ring_free), per CPU. The enqueue follows the unmap on the same CPU; if the next event there is
 * anything else, that kprobe hit was missed, and the entry was queued right after the unmap all the
 * same (dma-iommu.c __iommu_dma_unmap → queue_iova).
 */
final class PendingEnqueue {
  Domain domain;
  long seq;
  long iova;
  long size;
  long freelist;

  boolean isSet() {
    return domain != null;
  }

  void set(Domain domain, long seq, long iova, long size, long freelist) {
    this.domain = domain;
    this.seq = seq;
    this.iova = iova;
    this.size = size;
    this.freelist = freelist;
  }

  void clear() {
    domain = null;
  }
}
