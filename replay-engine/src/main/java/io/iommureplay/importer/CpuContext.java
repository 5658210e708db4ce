package io.iommureplay.importer;

import io.iommureplay.schema.FlushTrigger;
import java.util.ArrayList;
import java.util.List;

/**
 * What is in progress on one CPU at one interrupt level, as far as the trace shows it. A map or
 * unmap tracepoint names neither device nor domain; the dma-iommu and allocator kprobes around it
 * on the same CPU and level do (a hard interrupt can unmap in the middle of a task's map, so each
 * level has its own context).
 */
final class CpuContext {
  enum DmaCall {
    NONE,
    MAP,
    MAP_SG,
    UNMAP,
    UNMAP_SG
  }

  /** The dma-iommu call in progress (__iommu_dma_map, iommu_dma_map_sg, __iommu_dma_unmap, ...). */
  DmaCall call = DmaCall.NONE;

  String callDevice;
  long callDmaAddr;

  /** IOMMU prot bits of the map call (__iommu_dma_map's prot); 0 when not known. */
  int callProt;

  /** The last IOVA allocation on this context, which a following map must fall inside. */
  boolean allocRequested;

  long allocDomain = -1;
  long allocPages;
  long allocLimitPfn;
  boolean allocFlushRcache;
  boolean allocMissedCache;
  long allocatedDomain = -1;
  long allocatedPfn = -1;
  long allocatedPages;

  boolean rbtreeRequested;
  long rbtreeDomain = -1;
  long rbtreePages;
  long rbtreeLimitPfn;
  boolean rbtreeSizeAligned;

  /** The last unmap, until the fq_ring_free that starts queue_iova() or the strict iotlb_sync. */
  boolean unmapPending;

  long unmapIova;
  long unmapSize;
  long unmapDomain = -1;
  String unmapDevice;

  /** True right after queue_iova's first fq_ring_free: a flush now means the ring was full. */
  boolean justEnqueued;

  /** The flush chain in progress: why, and for which domain. */
  FlushTrigger flushTrigger = FlushTrigger.UNKNOWN;

  long flushDomain = -1;

  /** The flush-queue timer that started the chain (fq_flush_timeout), 0 when none. */
  long flushTimer;

  /**
   * Devices attached on this context since the last init_iova_domain (a group attaches together).
   */
  final List<String> attachedDevices = new ArrayList<>(4);

  /** Events on this context that still wait for the event that names their domain. */
  final List<HeldEvent> waiting = new ArrayList<>(2);

  void endFlushChain() {
    flushTrigger = FlushTrigger.UNKNOWN;
    flushDomain = -1;
    flushTimer = 0;
  }

  boolean allocationCovers(long pfn) {
    return allocatedPfn >= 0 && pfn >= allocatedPfn && pfn < allocatedPfn + allocatedPages;
  }
}
