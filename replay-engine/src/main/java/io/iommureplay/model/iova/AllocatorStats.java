package io.iommureplay.model.iova;

/**
 * What an allocator model did so far: its own decisions, counted when made ({@link
 * LinuxIovaAllocator#adopt} does not rewrite them).
 *
 * @param allocations allocation requests
 * @param failures requests that got no IOVA
 * @param fragmentedFailures failures although the window below the request's limit held at least as
 *     many free pages as asked for: the finding ALLOC_FAILURE_FRAGMENTED
 * @param iova32Failures failures of requests limited to the 32-bit space (IOVA32_EXHAUSTED)
 * @param cacheHits requests served from per-CPU state without a global lock (the Linux magazines;
 *     the CPU's own region)
 * @param frees ranges given back
 * @param globalLockAcquisitions how often a lock shared by all CPUs was taken (iova_rbtree_lock and
 *     the depot lock; the bitmap domain lock; the shared or a foreign region's lock)
 * @param reuseDistance allocations between the free of an IOVA and its next allocation
 */
public record AllocatorStats(
    long allocations,
    long failures,
    long fragmentedFailures,
    long iova32Failures,
    long cacheHits,
    long frees,
    long globalLockAcquisitions,
    ReuseDistance reuseDistance) {

  public double cacheHitRate() {
    return allocations == 0 ? 0 : (double) cacheHits / allocations;
  }

  public double globalLocksPer1000Allocations() {
    return allocations == 0 ? 0 : 1000.0 * globalLockAcquisitions / allocations;
  }

  /**
   * Reuse distances in log2 buckets: bucket 0 counts distance 0, bucket b distances in [2^(b-1),
   * 2^b). Frees whose record was pushed out of the model's bounded table of recent frees before the
   * IOVA came back are counted as untracked, not measured.
   */
  public record ReuseDistance(long samples, long untracked, long max, long[] log2Histogram) {

    public ReuseDistance {
      log2Histogram = log2Histogram.clone();
    }

    @Override
    public long[] log2Histogram() {
      return log2Histogram.clone();
    }

    /** An upper bound of the q-quantile (0 &lt; q &lt;= 1): the top of the bucket it falls in. */
    public long quantileUpperBound(double q) {
      long rank = (long) Math.ceil(q * samples);
      long seen = 0;
      for (int b = 0; b < log2Histogram.length; b++) {
        seen += log2Histogram[b];
        if (seen >= rank && seen > 0) return b == 0 ? 0 : Math.min(max, (1L << b) - 1);
      }
      return max;
    }
  }
}
