package io.iommureplay.bench.workload;

import io.iommureplay.model.Domain;
import io.iommureplay.model.FreedTable;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.flushqueue.FlushQueue;
import io.iommureplay.model.iotlb.StaleTable;
import io.iommureplay.model.iotlb.Window;
import io.iommureplay.schema.IommuEvent;

/**
 * Whether a stream is one a correct kernel could have recorded, as far as the model tells: replayed
 * into a model, nothing is left unapplied, the allocator model picks every pfn the stream shows,
 * the flush queue predicts every flush and no other, no page-table page is freed while it may be
 * cached and no invalidation misses part of a window. A benchmark of a stream the model disagrees
 * with would time its repair paths, not the model.
 */
public record Consistency(
    long events,
    long notApplied,
    long allocations,
    long allocationsAgreed,
    long unpredictedFlushes,
    long unconfirmedPredictions,
    long tablesFreedWhileCached,
    long partialFlushes,
    long liveMappedBytes,
    long openWindows) {

  /** Replays {@code events} into a new model with {@link Workloads#modelConfig()}. */
  public static Consistency check(IommuEvent[] events) {
    Counter counter = new Counter();
    IommuModel model = new IommuModel(Workloads.modelConfig(), counter);
    for (IommuEvent event : events) model.apply(event);
    model.finish();
    long allocations = 0;
    long agreed = 0;
    long unpredicted = 0;
    long unconfirmed = 0;
    long live = 0;
    long[] open = {0};
    for (Domain domain : model.domains()) {
      if (domain.iova() != null) {
        allocations += domain.iova().allocations();
        agreed += domain.iova().agreed();
      }
      FlushQueue queue = domain.flushQueue();
      if (queue != null) {
        unpredicted += queue.count(FlushQueue.Stat.UNMATCHED_OBSERVED_FLUSHES);
        unconfirmed += queue.count(FlushQueue.Stat.UNCONFIRMED_PREDICTED_FLUSHES);
      }
      live += domain.pageTable().liveMappedBytes();
      model.forEachOpenWindow(domain.id(), window -> open[0]++);
    }
    return new Consistency(
        events.length,
        counter.notApplied,
        allocations,
        agreed,
        unpredicted,
        unconfirmed,
        counter.tablesFreedWhileCached,
        counter.partialFlushes,
        live,
        open[0]);
  }

  public boolean isConsistent() {
    return notApplied == 0
        && allocations == allocationsAgreed
        && unpredictedFlushes == 0
        && unconfirmedPredictions == 0
        && tablesFreedWhileCached == 0
        && partialFlushes == 0;
  }

  /** This, if consistent; else an exception that tells what is wrong. */
  public Consistency require() {
    if (!isConsistent()) throw new IllegalStateException("inconsistent workload stream: " + this);
    return this;
  }

  private static final class Counter implements ModelListener {
    long notApplied;
    long tablesFreedWhileCached;
    long partialFlushes;

    @Override
    public void notApplied(IommuEvent event, String reason) {
      notApplied++;
    }

    @Override
    public void tableFreed(IommuEvent at, Domain domain, FreedTable table, StaleTable stillCached) {
      if (stillCached != null) tablesFreedWhileCached++;
    }

    @Override
    public void windowPartlyFlushed(Window window, long missedBytes, long flushSeq) {
      partialFlushes++;
    }
  }
}
