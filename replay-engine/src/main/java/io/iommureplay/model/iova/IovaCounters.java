package io.iommureplay.model.iova;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.Arrays;

/**
 * The counters every allocator model keeps; {@link AllocatorStats} is their read-only view.
 *
 * <p>Reuse distance is measured through a direct-mapped table of recent frees (pfn → allocation
 * count at the free): bounded memory, no boxing. A free whose slot is taken by another free before
 * its IOVA comes back is counted as untracked.
 */
final class IovaCounters {
  private static final int REUSE_SLOTS = 1 << 12;

  long allocations;
  long failures;
  long fragmentedFailures;
  long iova32Failures;
  long cacheHits;
  long frees;
  long globalLocks;
  private final long[] freedPfn = new long[REUSE_SLOTS];
  private final long[] freedAt = new long[REUSE_SLOTS];
  private final long[] reuseLog2 = new long[64];
  private long reuseSamples;
  private long reuseUntracked;
  private long reuseMax;

  IovaCounters() {
    Arrays.fill(freedPfn, -1);
  }

  /** A successful allocation of {@code pfn} (already counted in {@link #allocations}). */
  long allocated(long pfn) {
    int slot = slot(pfn);
    if (freedPfn[slot] == pfn) {
      long distance = allocations - 1 - freedAt[slot]; // other allocations in between
      reuseLog2[64 - Long.numberOfLeadingZeros(distance)]++;
      reuseSamples++;
      reuseMax = Math.max(reuseMax, distance);
      freedPfn[slot] = -1;
    }
    return pfn;
  }

  void freed(long pfn) {
    frees++;
    int slot = slot(pfn);
    if (freedPfn[slot] != -1 && freedPfn[slot] != pfn) reuseUntracked++;
    freedPfn[slot] = pfn;
    freedAt[slot] = allocations;
  }

  AllocatorStats stats() {
    return new AllocatorStats(
        allocations,
        failures,
        fragmentedFailures,
        iova32Failures,
        cacheHits,
        frees,
        globalLocks,
        new AllocatorStats.ReuseDistance(reuseSamples, reuseUntracked, reuseMax, reuseLog2));
  }

  private static int slot(long pfn) {
    return (int) ((pfn * 0x9E3779B97F4A7C15L) >>> (64 - 12));
  }

  void save(SnapshotOutput out) {
    out.writeVarLong(allocations)
        .writeVarLong(failures)
        .writeVarLong(fragmentedFailures)
        .writeVarLong(iova32Failures)
        .writeVarLong(cacheHits)
        .writeVarLong(frees)
        .writeVarLong(globalLocks)
        .writeVarLong(reuseSamples)
        .writeVarLong(reuseUntracked)
        .writeVarLong(reuseMax);
    for (long v : reuseLog2) out.writeVarLong(v);
    int used = 0;
    for (long pfn : freedPfn) if (pfn != -1) used++;
    out.writeVarInt(used);
    for (int i = 0; i < REUSE_SLOTS; i++) {
      if (freedPfn[i] != -1) out.writeVarInt(i).writeVarLong(freedPfn[i]).writeVarLong(freedAt[i]);
    }
  }

  static IovaCounters restore(SnapshotInput in) {
    IovaCounters c = new IovaCounters();
    c.allocations = in.readVarLong();
    c.failures = in.readVarLong();
    c.fragmentedFailures = in.readVarLong();
    c.iova32Failures = in.readVarLong();
    c.cacheHits = in.readVarLong();
    c.frees = in.readVarLong();
    c.globalLocks = in.readVarLong();
    c.reuseSamples = in.readVarLong();
    c.reuseUntracked = in.readVarLong();
    c.reuseMax = in.readVarLong();
    for (int b = 0; b < 64; b++) c.reuseLog2[b] = in.readVarLong();
    for (int n = in.readCount(); n > 0; n--) {
      int slot = in.readVarInt();
      if (slot >= REUSE_SLOTS) throw new SnapshotFormatException("reuse slot " + slot);
      c.freedPfn[slot] = in.readVarLong();
      c.freedAt[slot] = in.readVarLong();
    }
    return c;
  }
}
