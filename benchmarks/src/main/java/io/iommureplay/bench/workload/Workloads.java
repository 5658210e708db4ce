package io.iommureplay.bench.workload;

import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.flushqueue.FlushQueueParams;
import io.iommureplay.schema.IommuEvent;
import java.util.ArrayList;
import java.util.List;

/** Building event streams of the workloads, and the model configuration they are replayed with. */
public final class Workloads {
  /** The seed every harness uses, so that all of them replay the same streams. */
  public static final long SEED = 20240611L;

  private Workloads() {}

  /**
   * The model as the workloads' host needs it: the defaults, with 2 possible CPUs (the flush-queue
   * rings and IOVA caches there are).
   */
  public static ModelConfig modelConfig() {
    return ModelConfig.defaults()
        .withFlushQueue(FlushQueueParams.PER_CPU, SyntheticDevice.CPUS)
        .withAllocatorProfile(SyntheticDevice.KERNEL);
  }

  /** The first {@code count} events of {@code kind}'s stream (start included). */
  public static IommuEvent[] events(WorkloadKind kind, long seed, int count) {
    List<IommuEvent> events = new ArrayList<>(count + 1024);
    Workload workload = kind.create(seed);
    workload.start(events::add);
    while (events.size() < count) workload.next(events::add);
    return events.subList(0, count).toArray(new IommuEvent[0]);
  }
}
