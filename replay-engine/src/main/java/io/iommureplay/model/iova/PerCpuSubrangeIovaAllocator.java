package io.iommureplay.model.iova;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.Objects;

/**
 * A what-if allocator (no Linux driver has it): the IOVA space {@code [startPfn, endPfn]} split
 * into one region per CPU, with a shared region of {@code sharedPages} on top. A CPU allocates from
 * its own region under its own lock; failing that, from the shared region under the global lock,
 * then from the other CPUs' regions (their locks, counted as global too: other CPUs take them).
 * Each region allocates like iova.c's rbtree (top-down, size-aligned, cached start nodes), without
 * a per-CPU cache. A free goes to the region holding the pfn.
 */
public final class PerCpuSubrangeIovaAllocator implements IovaAllocator {
  private static final int FORMAT_VERSION = 1;

  private final int cpus;
  private final int granuleShift;
  private final long startPfn;
  private final long endPfn;
  private final long sharedPages;
  private final long perCpuPages;
  private final IovaRbtree[] regions; // [0, cpus): per CPU, [cpus]: shared
  private final ReservedRanges reserved;
  private final IovaCounters counters;

  /**
   * @param granuleShift log2 of the granule (12 for 4 KiB)
   * @param startPfn first pfn handed out
   * @param endPfn last pfn handed out
   * @param sharedPages size of the shared region at the top; the rest is split evenly, CPU 0 lowest
   */
  public PerCpuSubrangeIovaAllocator(
      int cpus, int granuleShift, long startPfn, long endPfn, long sharedPages) {
    this(
        cpus,
        granuleShift,
        startPfn,
        endPfn,
        sharedPages,
        new ReservedRanges(),
        new IovaCounters());
    for (int r = 0; r <= cpus; r++) regions[r] = new IovaRbtree(granuleShift, first(r));
  }

  private PerCpuSubrangeIovaAllocator(
      int cpus,
      int granuleShift,
      long startPfn,
      long endPfn,
      long sharedPages,
      ReservedRanges reserved,
      IovaCounters counters) {
    if (cpus < 1 || sharedPages < 0 || endPfn - sharedPages - startPfn + 1 < cpus) {
      throw new IllegalArgumentException(
          cpus + " CPUs in [" + startPfn + ", " + endPfn + "] sharing " + sharedPages);
    }
    this.cpus = cpus;
    this.granuleShift = granuleShift;
    this.startPfn = startPfn;
    this.endPfn = endPfn;
    this.sharedPages = sharedPages;
    this.perCpuPages = (endPfn - sharedPages - startPfn + 1) / cpus;
    this.regions = new IovaRbtree[cpus + 1];
    this.reserved = reserved;
    this.counters = counters;
  }

  @Override
  public long allocate(long pages, long limitPfn, int cpu, long nowNs) {
    Objects.checkIndex(cpu, cpus);
    if (pages < 1) throw new IllegalArgumentException("pages " + pages);
    counters.allocations++;
    long pfn = allocIn(cpu, pages, limitPfn);
    if (pfn != FAILED) {
      counters.cacheHits++;
      return counters.allocated(pfn);
    }
    for (int k = 0; k < cpus; k++) {
      int r = k == 0 ? cpus : (cpu + k) % cpus;
      counters.globalLocks++;
      pfn = allocIn(r, pages, limitPfn);
      if (pfn != FAILED) return counters.allocated(pfn);
    }
    counters.failures++;
    if (limitPfn < regions[0].dma32BitPfn()) counters.iova32Failures++;
    if (fragmentation(limitPfn).freePages() >= pages) counters.fragmentedFailures++;
    return FAILED;
  }

  @Override
  public void free(long pfn, long pages, int cpu, long nowNs) {
    Objects.checkIndex(cpu, cpus);
    if (pfn < startPfn || pfn > endPfn)
      throw new IllegalArgumentException("pfn " + pfn + " outside the space");
    int r = regionOf(pfn);
    if (r != cpu) counters.globalLocks++;
    counters.freed(pfn);
    regions[r].free(pfn);
  }

  @Override
  public void reserve(long pfnLo, long pfnHi) {
    reserved.add(pfnLo, pfnHi);
    for (int r = 0; r <= cpus; r++) {
      long lo = Math.max(pfnLo, first(r));
      long hi = Math.min(pfnHi, last(r));
      if (lo <= hi) {
        counters.globalLocks++;
        regions[r].reserve(lo, hi);
      }
    }
  }

  @Override
  public AllocatorStats stats() {
    return counters.stats();
  }

  @Override
  public FragmentationSample fragmentation(long limitPfn) {
    long last = Math.min(limitPfn, endPfn);
    HoleScanner scanner = new HoleScanner(startPfn, last, regions[0].dma32BitPfn());
    for (IovaRbtree region : regions) region.forEach(scanner); // regions lie in ascending order
    return scanner.finish(reserved.pagesWithin(startPfn, last), 0);
  }

  private long allocIn(int r, long pages, long limitPfn) {
    long limit = Math.min(limitPfn, last(r));
    return first(r) > limit ? FAILED : regions[r].alloc(pages, limit, true);
  }

  private int regionOf(long pfn) {
    return pfn > endPfn - sharedPages
        ? cpus
        : (int) Math.min(cpus - 1, (pfn - startPfn) / perCpuPages);
  }

  private long first(int r) {
    return r == cpus ? endPfn - sharedPages + 1 : startPfn + r * perCpuPages;
  }

  /** The last CPU's region takes what the even split leaves over. */
  private long last(int r) {
    return r >= cpus - 1 ? (r == cpus ? endPfn : endPfn - sharedPages) : first(r + 1) - 1;
  }

  @Override
  public void save(SnapshotOutput out) {
    out.writeVarInt(FORMAT_VERSION)
        .writeVarInt(cpus)
        .writeVarInt(granuleShift)
        .writeVarLong(startPfn)
        .writeVarLong(endPfn)
        .writeVarLong(sharedPages);
    for (IovaRbtree region : regions) region.save(out);
    reserved.save(out);
    counters.save(out);
  }

  public static PerCpuSubrangeIovaAllocator restore(SnapshotInput in) {
    int version = in.readVarInt();
    if (version != FORMAT_VERSION) {
      throw new SnapshotFormatException("PerCpuSubrangeIovaAllocator version " + version);
    }
    int cpus = in.readVarInt();
    if (cpus < 1 || cpus > 1 << 16) throw new SnapshotFormatException("cpus " + cpus);
    int granuleShift = in.readVarInt();
    long startPfn = in.readVarLong();
    long endPfn = in.readVarLong();
    long sharedPages = in.readVarLong();
    IovaRbtree[] regions = new IovaRbtree[cpus + 1];
    for (int r = 0; r <= cpus; r++) regions[r] = IovaRbtree.restore(in);
    PerCpuSubrangeIovaAllocator a =
        new PerCpuSubrangeIovaAllocator(
            cpus,
            granuleShift,
            startPfn,
            endPfn,
            sharedPages,
            ReservedRanges.restore(in),
            IovaCounters.restore(in));
    System.arraycopy(regions, 0, a.regions, 0, regions.length);
    return a;
  }
}
