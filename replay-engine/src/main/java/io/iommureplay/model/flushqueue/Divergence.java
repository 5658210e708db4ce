package io.iommureplay.model.flushqueue;

/**
 * Where a {@link FlushQueue} following a trace disagreed with the kernel's flushes.
 *
 * @param kind what disagreed
 * @param event the caller's id of the event concerned ({@link FlushQueue#NO_EVENT} for a timer that
 *     came due between events)
 * @param timeNs when
 * @param cpu the CPU concerned, -1 for the timer
 * @param occupancy entries in that CPU's ring at the time, in the model
 */
public record Divergence(Kind kind, long event, long timeNs, int cpu, int occupancy) {

  public enum Kind {
    /**
     * An enqueue found the model's ring full ({@code fq_full()}), but the kernel did not flush
     * there.
     */
    FULL_FLUSH_NOT_OBSERVED,
    /** The kernel flushed a full ring in {@code queue_iova()} that the model did not find full. */
    UNPREDICTED_FULL_FLUSH,
    /** The kernel's {@code fq_flush_timeout()} ran while the model had no timer armed. */
    UNPREDICTED_TIMER_FLUSH,
    /** Following with an own timer: the model's timer came due and the kernel's had not fired. */
    TIMER_FLUSH_NOT_OBSERVED
  }

  @Override
  public String toString() {
    return switch (kind) {
      case FULL_FLUSH_NOT_OBSERVED ->
          "model expected a full-ring flush at event %d (cpu %d, %d entries queued); the kernel did not flush"
              .formatted(event, cpu, occupancy);
      case UNPREDICTED_FULL_FLUSH ->
          "kernel flushed a full ring at event %d (cpu %d); the model's ring held %d entries"
              .formatted(event, cpu, occupancy);
      case UNPREDICTED_TIMER_FLUSH ->
          "kernel timer flush at event %d (cpu %d) while the model had no timer armed"
              .formatted(event, cpu);
      case TIMER_FLUSH_NOT_OBSERVED ->
          "model timer due at %d ns; no kernel timer flush by then".formatted(timeNs);
    };
  }
}
