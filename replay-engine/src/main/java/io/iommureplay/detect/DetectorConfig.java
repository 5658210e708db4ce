package io.iommureplay.detect;

/**
 * Thresholds of the detectors.
 *
 * @param longWindowNs a use-after-unmap window open longer than this is a LONG_WINDOW finding, and
 *     one still open this long at the end of the trace a MISSING_FLUSH; default: the flush-queue
 *     timeout (10 ms) plus a 90 ms margin, far above the timer's real firing delay (~16 ms median,
 *     53 ms at most on the emulated captures)
 * @param coalesceIntervalNs instances of one incident where no flush window applies: how far apart
 *     they may be and still coalesce
 * @param evidenceLimit how many event sequence numbers a finding keeps
 * @param highFragmentation fragmentation index (1 − largest hole / free space) above which an IOVA
 *     space counts as highly fragmented
 * @param sustainedSamples how many consecutive fragmentation samples must be above the threshold
 *     for a HIGH_FRAGMENTATION finding
 * @param sampleEveryAllocations how often the allocator's fragmentation is sampled
 */
public record DetectorConfig(
    long longWindowNs,
    long coalesceIntervalNs,
    int evidenceLimit,
    double highFragmentation,
    int sustainedSamples,
    int sampleEveryAllocations) {
  public static final DetectorConfig DEFAULTS =
      new DetectorConfig(100_000_000L, 10_000_000L, 8, 0.9, 8, 256);

  public DetectorConfig withLongWindowNs(long ns) {
    return new DetectorConfig(
        ns,
        coalesceIntervalNs,
        evidenceLimit,
        highFragmentation,
        sustainedSamples,
        sampleEveryAllocations);
  }
}
