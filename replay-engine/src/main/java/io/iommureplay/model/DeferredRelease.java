package io.iommureplay.model;

import io.iommureplay.model.flushqueue.FlushQueue;
import io.iommureplay.model.flushqueue.FlushQueueListener;
import io.iommureplay.model.flushqueue.FlushReason;
import io.iommureplay.model.iotlb.IotlbModel;
import io.iommureplay.model.iotlb.StaleTable;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.TableFreeTiming;
import io.iommureplay.model.pagetable.TablePage;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.Unmapping;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * When what an unmap gave up really goes back: the page-table pages it unlinked, and (lazily) its
 * IOVA. Strict (DMA): after the iotlb_sync that follows the unmap (iommu_unmap → iommu_iotlb_sync →
 * iommu_put_pages_list). Lazy (DMA_FQ): through the domain's flush queue (dma-iommu.c queue_iova),
 * which the model follows: the kernel's own flushes drive it (FQ_FLUSH starts one, the
 * domain-selective invalidation finishes it) and it predicts alongside, so predicted and observed
 * flushes can be compared. A table page released while its paging-structure-cache entries may still
 * be cached is told to the listener (TABLE_FREE_BEFORE_FLUSH).
 */
final class DeferredRelease {
  private final ModelConfig config;
  private final IotlbModel iotlb;
  private final ModelListener listener;
  private final HeldTables held = new HeldTables();
  private PendingEnqueue[] pending = new PendingEnqueue[0];
  private EventType[] lastType = new EventType[0];

  /** The event being applied: what flush-queue callbacks happen at. */
  private IommuEvent current;

  DeferredRelease(ModelConfig config, IotlbModel iotlb, ModelListener listener) {
    this.config = config;
    this.iotlb = iotlb;
    this.listener = listener;
  }

  /**
   * Called before every event: an unmap still waiting for its FQ_ENQUEUE on this CPU was queued all
   * the same (the fq_ring_free kprobe hit was missed), right after the unmap.
   */
  void beforeEvent(IommuEvent event) {
    current = event;
    if (event.getType() == EventType.FQ_ENQUEUE || event.getCpu() < 0) return;
    PendingEnqueue p = pendingOn(event.getCpu());
    if (p.isSet()) queuePending(p, event);
  }

  void afterEvent(IommuEvent event) {
    if (event.getCpu() < 0) return;
    if (event.getCpu() >= lastType.length) lastType = Arrays.copyOf(lastType, event.getCpu() + 1);
    lastType[event.getCpu()] = event.getType();
  }

  /** An unmap applied to the page table (not one applied late, once its domain became known). */
  void unmapped(IommuEvent event, Domain domain, Unmapping unmap, UnmapResult result) {
    long freelist = FlushQueue.NO_TABLE_PAGES;
    // VT-d frees unmapped tables after the caller's flush; AMD and ARM flush for themselves first.
    if (result.freeTiming() == TableFreeTiming.AFTER_CALLER_FLUSH) {
      freelist =
          held.hold(
              event.getSeq(),
              unlinked(event, domain, result.freedTables()),
              FlushQueue.NO_TABLE_PAGES);
    }
    if (event.getCpu() < 0) {
      if (freelist != FlushQueue.NO_TABLE_PAGES) held.awaitFlush(domain.id(), freelist);
      return;
    }
    pendingOn(event.getCpu())
        .set(domain, event.getSeq(), unmap.getIova(), unmap.getSize(), freelist);
  }

  /** A VT-d map that replaced small pages by a superpage freed their tables before any flush. */
  void mapped(IommuEvent event, Domain domain, MapResult result) {
    if (result.freeTiming() != TableFreeTiming.IMMEDIATE) return;
    for (FreedTable table : unlinked(event, domain, result.freedTables())) freed(domain, table);
  }

  /** queue_iova() of a lazy unmap (FQ_ENQUEUE). */
  void enqueued(IommuEvent event, Domain domain, FlushQueueOp op) {
    FlushQueue queue = flushQueueOf(domain);
    PendingEnqueue p = event.getCpu() < 0 ? null : pendingOn(event.getCpu());
    long iova = op.getIova() == null ? 0 : op.getIova();
    long size = op.getSize() == null ? 0 : op.getSize();
    if (p != null && p.isSet() && p.domain == domain && p.iova == iova) {
      enqueue(queue, domain, event.getCpu(), p.seq, p.freelist, iova, size);
      p.clear();
    } else if (queue != null && op.getIova() != null) {
      enqueue(queue, domain, event.getCpu(), event.getSeq(), FlushQueue.NO_TABLE_PAGES, iova, size);
    }
  }

  /** fq_flush_iotlb() began (FQ_FLUSH). */
  void flushStarted(IommuEvent event, Domain domain, FlushQueueOp op) {
    FlushQueue queue = flushQueueOf(domain);
    if (queue == null || event.getCpu() < 0) return;
    queue.flushStarted(
        event.getSeq(), event.getTsNs(), event.getCpu(), reason(op.getTrigger(), event.getCpu()));
  }

  /**
   * An invalidation reached {@code domain}: a domain-wide one finishes the flush-queue flush that
   * issued it; any one covering the domain releases the tables strict unmaps hold.
   */
  void invalidated(IommuEvent event, Domain domain, IotlbInvalidation invalidation) {
    if (domain == null) return;
    FlushQueue queue = domain.flushQueue();
    boolean fromQueue =
        invalidation.getTrigger() == FlushTrigger.FQ_TIMER
            || invalidation.getTrigger() == FlushTrigger.FQ_FULL;
    if (queue != null
        && invalidation.getScope() == FlushScope.DOMAIN
        && event.getCpu() >= 0
        && (fromQueue || invalidation.getTrigger() == FlushTrigger.UNKNOWN)) {
      queue.flushFinished(
          event.getSeq(),
          event.getTsNs(),
          event.getCpu(),
          reason(invalidation.getTrigger(), event.getCpu()));
    }
    for (long freelist : held.flushed(domain.id())) {
      for (FreedTable table : held.release(freelist)) freed(domain, table);
    }
  }

  private void queuePending(PendingEnqueue p, IommuEvent at) {
    Domain domain = p.domain;
    FlushQueue queue = domain.isLazy() ? flushQueueOf(domain) : null;
    if (queue != null) {
      enqueue(queue, domain, at.getCpu(), p.seq, p.freelist, p.iova, p.size);
    } else if (p.freelist != FlushQueue.NO_TABLE_PAGES) {
      held.awaitFlush(domain.id(), p.freelist);
    }
    p.clear();
  }

  private void enqueue(
      FlushQueue queue, Domain domain, int cpu, long seq, long freelist, long iova, long size) {
    long granule = domain.granule();
    queue.enqueue(
        seq, current.getTsNs(), cpu, iova / granule, (size + granule - 1) / granule, freelist);
  }

  /**
   * The tables left the tree: their paging-structure-cache entries may stay cached for now. Returns
   * what their release will need.
   */
  private List<FreedTable> unlinked(IommuEvent event, Domain domain, List<TablePage> pages) {
    if (pages.isEmpty()) return List.of();
    List<FreedTable> tables = pages.stream().map(FreedTable::of).toList();
    for (FreedTable table : tables) {
      iotlb.tableUnlinked(
          domain.id(),
          table.level(),
          table.spanStart(),
          table.spanSize(),
          event.getTsNs(),
          event.getSeq());
    }
    return tables;
  }

  /** The flush queue of a domain the trace shows to be lazy, made on first sight. */
  private FlushQueue flushQueueOf(Domain domain) {
    if (domain.flushQueue() == null) {
      domain.makeLazy(
          FlushQueue.following(
              config.flushQueue(), config.cpus(), FlushQueue.NO_OWN_TIMER, queueListener(domain)));
    }
    return domain.flushQueue();
  }

  /** What {@code domain}'s flush queue releases goes back through here (also on restore). */
  FlushQueueListener queueListener(Domain domain) {
    return new FlushQueueListener() {
      @Override
      public void tablePagesReleased(long freelist) {
        // Following the kernel, a full ring makes the queue flush and reap before the trace shows
        // the flush itself (the IOTLB_FLUSH after FQ_ENQUEUE): these tables go back after it.
        FlushQueue queue = domain.flushQueue();
        if (queue != null
            && current != null
            && current.getCpu() >= 0
            && queue.awaitingObservedFlush(current.getCpu())) {
          held.awaitFlush(domain.id(), freelist);
          return;
        }
        for (FreedTable table : held.release(freelist)) freed(domain, table);
      }

      @Override
      public void iovaReleased(long pfn, long pages) {
        listener.iovaReleased(current, domain, pfn, pages);
      }
    };
  }

  /** A table page goes back to the page allocator now: it must no longer be cached. */
  private void freed(Domain domain, FreedTable table) {
    StaleTable stale = iotlb.cachedTable(domain.id(), table.spanStart(), table.spanSize());
    listener.tableFreed(current, domain, table, stale);
  }

  /**
   * Writes the held tables, the unmaps waiting for their enqueue and each CPU's last event type;
   * {@code current} is not state: every event sets it before use.
   */
  void save(SnapshotOutput out) {
    held.save(out);
    out.writeVarInt(pending.length);
    for (PendingEnqueue p : pending) {
      out.writeBoolean(p.isSet());
      if (p.isSet()) {
        out.writeVarLong(p.domain.id())
            .writeVarLong(p.seq)
            .writeLong(p.iova)
            .writeVarLong(p.size)
            .writeSignedVarLong(p.freelist);
      }
    }
    out.writeVarInt(lastType.length);
    for (EventType type : lastType) out.writeVarInt(type == null ? 0 : type.ordinal() + 1);
  }

  /** Reads what {@link #save} wrote, into a new instance; pending unmaps name their domain. */
  void restore(SnapshotInput in, Map<Long, Domain> domains) {
    held.restore(in);
    pending = new PendingEnqueue[in.readCount()];
    for (int cpu = 0; cpu < pending.length; cpu++) {
      pending[cpu] = new PendingEnqueue();
      if (!in.readBoolean()) continue;
      long id = in.readVarLong();
      Domain domain = domains.get(id);
      if (domain == null)
        throw new SnapshotFormatException(
            "CPU "
                + cpu
                + " waits for an enqueue of domain "
                + id
                + ", which is not in the snapshot");
      pending[cpu].set(
          domain, in.readVarLong(), in.readLong(), in.readVarLong(), in.readSignedVarLong());
    }
    lastType = new EventType[in.readCount()];
    EventType[] types = EventType.values();
    for (int cpu = 0; cpu < lastType.length; cpu++) {
      int n = in.readVarInt();
      if (n > types.length)
        throw new SnapshotFormatException("unknown EventType ordinal " + (n - 1));
      lastType[cpu] = n == 0 ? null : types[n - 1];
    }
  }

  /**
   * Why a flush-queue flush ran. The importer tells (FQ_TIMER, FQ_FULL); where the kprobes that
   * show it were missed, a flush right after an unmap on that CPU is queue_iova's, else the
   * timer's.
   */
  private FlushReason reason(FlushTrigger trigger, int cpu) {
    if (trigger == FlushTrigger.FQ_TIMER) return FlushReason.TIMER;
    if (trigger == FlushTrigger.FQ_FULL) return FlushReason.FULL;
    EventType before = cpu < lastType.length ? lastType[cpu] : null;
    return before == EventType.UNMAP || before == EventType.FQ_ENQUEUE
        ? FlushReason.FULL
        : FlushReason.TIMER;
  }

  private PendingEnqueue pendingOn(int cpu) {
    if (cpu >= pending.length) {
      int old = pending.length;
      pending = Arrays.copyOf(pending, cpu + 1);
      for (int i = old; i < pending.length; i++) pending[i] = new PendingEnqueue();
    }
    return pending[cpu];
  }
}
