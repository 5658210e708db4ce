package io.iommureplay.bench;

import io.iommureplay.bench.workload.Consistency;
import io.iommureplay.bench.workload.WorkloadKind;
import io.iommureplay.bench.workload.Workloads;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelListener;
import io.iommureplay.schema.IommuEvent;
import java.util.Arrays;

/**
 * Whether the model's cost grows linearly with the trace: for each workload, the time to replay the
 * first N events of its stream and the first 10N, each into a new model, on one thread; after
 * warm-up rounds, measured rounds alternate the two sizes so that both see the same machine state,
 * and the medians are compared. Target: 10× the events in at most 11× the time.
 *
 * <p>Usage: {@code Linearity [N]} (default 300,000; the 10N events are built before timing and stay
 * in memory: about 120 bytes an event).
 */
public final class Linearity {
  private static final int DEFAULT_N = 300_000;
  private static final int WARMUP_ROUNDS = 3;
  private static final int MEASURED_ROUNDS = 7;
  private static final double TARGET = 11.0;

  private Linearity() {}

  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0].replace("_", "")) : DEFAULT_N;
    boolean allMet = true;
    for (WorkloadKind kind : WorkloadKind.values()) {
      IommuEvent[] large = Workloads.events(kind, Workloads.SEED, 10 * n);
      IommuEvent[] small = Arrays.copyOf(large, n);
      Consistency consistency = Consistency.check(large).require();
      long[] smallNs = new long[MEASURED_ROUNDS];
      long[] largeNs = new long[MEASURED_ROUNDS];
      for (int round = 0; round < WARMUP_ROUNDS + MEASURED_ROUNDS; round++) {
        long s = replay(small);
        long l = replay(large);
        if (round >= WARMUP_ROUNDS) {
          smallNs[round - WARMUP_ROUNDS] = s;
          largeNs[round - WARMUP_ROUNDS] = l;
        }
      }
      double ratio = (double) Timing.median(largeNs) / Timing.median(smallNs);
      allMet &= ratio <= TARGET;
      System.out.printf(
          "%s: %,d events in %.1f ms (%.2f M events/s), %,d events in %.1f ms"
              + " (%.2f M events/s); 10x the events: %.2fx the time (target <= %.0fx)%n",
          kind,
          n,
          Timing.median(smallNs) / 1e6,
          n / (Timing.median(smallNs) / 1e9) / 1e6,
          10L * n,
          Timing.median(largeNs) / 1e6,
          10L * n / (Timing.median(largeNs) / 1e9) / 1e6,
          ratio,
          TARGET);
      System.out.printf(
          "  medians of %d rounds after %d warm-up rounds; all %d-event times (ms): %s / %s%n",
          MEASURED_ROUNDS, WARMUP_ROUNDS, n, millis(smallNs), millis(largeNs));
      System.out.printf("  stream checked: %s%n", consistency);
    }
    if (!allMet) System.exit(1);
  }

  private static long replay(IommuEvent[] events) {
    IommuModel model = new IommuModel(Workloads.modelConfig(), ModelListener.NONE);
    long start = System.nanoTime();
    for (IommuEvent event : events) model.apply(event);
    model.finish();
    return System.nanoTime() - start;
  }

  private static String millis(long[] nanos) {
    StringBuilder s = new StringBuilder();
    for (long ns : nanos) s.append(s.length() == 0 ? "" : " ").append(Math.round(ns / 1e6));
    return s.toString();
  }
}
