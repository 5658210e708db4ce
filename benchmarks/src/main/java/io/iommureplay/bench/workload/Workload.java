package io.iommureplay.bench.workload;

import io.iommureplay.schema.IommuEvent;
import java.util.function.Consumer;

/**
 * A deterministic synthetic trace of one device's DMA, event by event, as the importer makes them
 * of a capture. Made on the fly, so that a harness can feed a model without holding the events.
 */
public interface Workload {
  /** The events that set up the device's domain; emitted once, before any {@link #next}. */
  void start(Consumer<IommuEvent> out);

  /** The events of the next I/O (at least one), with whatever the kernel did in between. */
  void next(Consumer<IommuEvent> out);
}
