package io.iommureplay.bench;

import java.util.Arrays;

/** How the harnesses summarise repeated timings. */
final class Timing {
  private Timing() {}

  /** The median of {@code nanos}. */
  static long median(long[] nanos) {
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  /** {@code items} per second at the median of {@code nanos}. */
  static double rate(long items, long[] nanos) {
    return items / (median(nanos) / 1e9);
  }
}
