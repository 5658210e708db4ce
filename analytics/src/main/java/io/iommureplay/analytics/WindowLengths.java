package io.iommureplay.analytics;

import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * Use-after-unmap window lengths, as HdrHistogram distributions keyed by whatever the caller groups
 * by (domain, device, mode): 3 significant digits from 1 ns to an hour.
 */
public final class WindowLengths {
  private static final long HIGHEST_NS = 3_600_000_000_000L;

  private final Map<String, Histogram> byKey = new TreeMap<>();

  public void record(String key, long lengthNs) {
    byKey
        .computeIfAbsent(key, k -> new Histogram(HIGHEST_NS, 3))
        .recordValue(Math.max(0, Math.min(lengthNs, HIGHEST_NS)));
  }

  /** The keys recorded, in order. */
  public Iterable<String> keys() {
    return byKey.keySet();
  }

  /** p50, p90, p99 and max of one key, in ns. */
  public Percentiles percentiles(String key) {
    Histogram h = byKey.get(key);
    return new Percentiles(
        h.getTotalCount(),
        h.getValueAtPercentile(50),
        h.getValueAtPercentile(90),
        h.getValueAtPercentile(99),
        h.getMaxValue());
  }

  /** The summary figures of one distribution. */
  public record Percentiles(long count, long p50, long p90, long p99, long max) {}
}
