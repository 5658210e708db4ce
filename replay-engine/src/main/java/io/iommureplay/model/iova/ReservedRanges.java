package io.iommureplay.model.iova;

import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.Arrays;

/** The ranges reserved so far (a handful per domain), kept to report reserved space. */
final class ReservedRanges {
  private long[] ranges = new long[8]; // lo, hi pairs
  private int count;

  void add(long lo, long hi) {
    if (2 * count + 2 > ranges.length) ranges = Arrays.copyOf(ranges, ranges.length * 2);
    ranges[2 * count] = lo;
    ranges[2 * count + 1] = hi;
    count++;
  }

  /** Reserved pages within {@code [first, last]} (reservations are assumed disjoint). */
  long pagesWithin(long first, long last) {
    long pages = 0;
    for (int i = 0; i < count; i++) {
      long lo = Math.max(first, ranges[2 * i]);
      long hi = Math.min(last, ranges[2 * i + 1]);
      if (hi >= lo) pages += hi - lo + 1;
    }
    return pages;
  }

  void forEach(PfnRangeTree.RangeVisitor visitor) {
    for (int i = 0; i < count; i++) visitor.range(ranges[2 * i], ranges[2 * i + 1]);
  }

  void save(SnapshotOutput out) {
    out.writeVarInt(count);
    for (int i = 0; i < 2 * count; i++) out.writeLong(ranges[i]);
  }

  static ReservedRanges restore(SnapshotInput in) {
    ReservedRanges r = new ReservedRanges();
    for (int i = in.readCount(); i > 0; i--) r.add(in.readLong(), in.readLong());
    return r;
  }
}
