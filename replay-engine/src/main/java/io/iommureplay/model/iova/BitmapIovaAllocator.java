package io.iommureplay.model.iova;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.Arrays;

/**
 * The round-robin bitmap allocator of the AMD IOMMU driver's own DMA ops (amd_iommu.c of the
 * v2.6.2x–v4.9 era, before it took the generic IOVA allocator): an aperture of 128 MiB ranges
 * (APERTURE_RANGE_SHIFT 27, at most APERTURE_MAX_RANGES 32), each a bitmap of 4 KiB pages, grown on
 * demand (alloc_new_range()); next-fit from the page after the last allocation (dom->next_address),
 * wrapping to the start when nothing fits above it.
 *
 * <p>Because freed pages are reused only after the cursor comes round, the driver flushed the IOTLB
 * lazily: a wrap set need_flush and the allocation ended with a full domain flush
 * (domain_flush_tlb() in __map_single()); a free at or above the cursor flushed its pages at once
 * (dma_ops_free_addresses() + __unmap_single()). Both are counted ({@link #fullFlushes()}, {@link
 * #pageFlushes()}). Allocations are not size-aligned (map_page() passes align = false). Every call
 * takes the domain lock.
 */
public final class BitmapIovaAllocator implements IovaAllocator {
  /** APERTURE_RANGE_SHIFT 27: a range is 128 MiB of 4 KiB pages. */
  public static final int APERTURE_RANGE_PAGES = 1 << (27 - 12);

  /** APERTURE_MAX_RANGES: the aperture stops at 32 ranges (4 GiB). */
  public static final int APERTURE_MAX_RANGES = 32;

  private static final int FORMAT_VERSION = 1;
  private static final long DMA_32BIT_PFN = 1L << (32 - 12);

  private final int rangePages;
  private final int maxRanges;
  private final ReservedRanges reserved;
  private final IovaCounters counters;
  private long[][] ranges = new long[1][]; // aperture[i]->bitmap
  private int apertureRanges;
  private long nextPfn; // dom->next_address >> PAGE_SHIFT
  private boolean needFlush;
  private boolean lastWrapped;
  private long fullFlushes;
  private long pageFlushes;

  /** The driver's geometry: 32768-page ranges, up to 32 of them. */
  public BitmapIovaAllocator() {
    this(APERTURE_RANGE_PAGES, APERTURE_MAX_RANGES);
  }

  /**
   * dma_ops_domain_alloc(): one range to start with, page 0 reserved ({@code bitmap[0] = 1}).
   *
   * @param rangePages pages per aperture range, a multiple of 64
   * @param maxRanges how many ranges the aperture may grow to
   */
  public BitmapIovaAllocator(int rangePages, int maxRanges) {
    this(rangePages, maxRanges, new ReservedRanges(), new IovaCounters());
    reserved.add(0, 0);
    allocNewRange();
  }

  private BitmapIovaAllocator(
      int rangePages, int maxRanges, ReservedRanges reserved, IovaCounters counters) {
    if (rangePages < 64 || rangePages % 64 != 0 || maxRanges < 1) {
      throw new IllegalArgumentException(rangePages + " pages per range, " + maxRanges + " ranges");
    }
    this.rangePages = rangePages;
    this.maxRanges = maxRanges;
    this.reserved = reserved;
    this.counters = counters;
  }

  /**
   * __map_single(): dma_ops_alloc_addresses() from the cursor, wrapping once; if that fails too,
   * the aperture grows by a range and the search starts in it. A wrap costs a full flush when the
   * allocation succeeds.
   */
  @Override
  public long allocate(long pages, long limitPfn, int cpu, long nowNs) {
    if (pages < 1) throw new IllegalArgumentException("pages " + pages);
    counters.allocations++;
    counters.globalLocks++; // domain->lock
    lastWrapped = false;
    long pfn = allocAddresses(pages, limitPfn);
    while (pfn == FAILED && apertureRanges < maxRanges) {
      nextPfn = (long) apertureRanges * rangePages;
      allocNewRange();
      pfn = allocAddresses(pages, limitPfn);
    }
    if (pfn == FAILED) {
      counters.failures++;
      if (limitPfn < DMA_32BIT_PFN) counters.iova32Failures++;
      if (fragmentation(limitPfn).freePages() >= pages) counters.fragmentedFailures++;
      return FAILED;
    }
    if (needFlush) {
      fullFlushes++; // domain_flush_tlb()
      needFlush = false;
    }
    return counters.allocated(pfn);
  }

  /** unmap_page() → __unmap_single() → dma_ops_free_addresses(). */
  @Override
  public void free(long pfn, long pages, int cpu, long nowNs) {
    int i = (int) (pfn / rangePages);
    if (pfn < 0 || i >= apertureRanges || pfn % rangePages + pages > rangePages) {
      throw new IllegalArgumentException("pfn " + pfn + " + " + pages + " outside the aperture");
    }
    counters.freed(pfn);
    counters.globalLocks++; // domain->lock
    if (pfn >= nextPfn) needFlush = true;
    clear(ranges[i], (int) (pfn % rangePages), (int) (pfn % rangePages + pages));
    if (needFlush) {
      pageFlushes++; // domain_flush_pages()
      needFlush = false;
    }
  }

  /**
   * dma_ops_reserve_addresses(); applied again to ranges added later (as alloc_new_range() does).
   */
  @Override
  public void reserve(long pfnLo, long pfnHi) {
    counters.globalLocks++;
    reserved.add(pfnLo, pfnHi);
    for (int i = 0; i < apertureRanges; i++) reserveIn(i, pfnLo, pfnHi);
  }

  /** Full IOTLB flushes the wraps cost. */
  public long fullFlushes() {
    return fullFlushes;
  }

  /** Page flushes of frees at or above the cursor. */
  public long pageFlushes() {
    return pageFlushes;
  }

  /** The last {@link #allocate} wrapped round to the start of the aperture. */
  public boolean lastAllocationWrapped() {
    return lastWrapped;
  }

  /** The aperture's size in ranges. */
  public int apertureRanges() {
    return apertureRanges;
  }

  @Override
  public AllocatorStats stats() {
    return counters.stats();
  }

  /** Pages not yet in the aperture count as free: the aperture grows to take them. */
  @Override
  public FragmentationSample fragmentation(long limitPfn) {
    long last = Math.min(limitPfn, (long) maxRanges * rangePages - 1);
    HoleScanner scanner = new HoleScanner(0, last, DMA_32BIT_PFN);
    for (int i = 0; i < apertureRanges; i++) {
      long offset = (long) i * rangePages;
      long[] map = ranges[i];
      int from = nextBit(map, 0, rangePages, true);
      while (from < rangePages) {
        int to = nextBit(map, from, rangePages, false);
        scanner.range(offset + from, offset + to - 1);
        from = nextBit(map, to, rangePages, true);
      }
    }
    return scanner.finish(reserved.pagesWithin(0, last), 0);
  }

  /** dma_ops_alloc_addresses(): from the cursor; failing that, from 0 with need_flush set. */
  private long allocAddresses(long pages, long limitPfn) {
    long pfn = areaAlloc(pages, limitPfn, nextPfn);
    if (pfn == FAILED) {
      nextPfn = 0;
      pfn = areaAlloc(pages, limitPfn, 0);
      needFlush = true;
      lastWrapped = true;
    }
    return pfn;
  }

  /**
   * dma_ops_area_alloc(): iommu_area_alloc() in each range from the one holding {@code start} (from
   * {@code start} in it, from 0 in the next ones), stopping at the DMA mask.
   */
  private long areaAlloc(long pages, long limitPfn, long start) {
    long nextBit = start % rangePages;
    for (int i = (int) (start / rangePages); i < apertureRanges; i++) {
      long offset = (long) i * rangePages;
      if (offset > limitPfn) break;
      int size = (int) Math.min(rangePages, limitPfn - offset + 1); // iommu_device_max_index()
      int index = findZeroArea(ranges[i], size, (int) nextBit, pages);
      if (index >= 0) {
        set(ranges[i], index, (int) (index + pages));
        nextPfn = offset + index + pages;
        return offset + index;
      }
      nextBit = 0;
    }
    return FAILED;
  }

  /** bitmap_find_next_zero_area() (no alignment): the first run of {@code nr} zeros from start. */
  private static int findZeroArea(long[] map, int size, int start, long nr) {
    if (nr > size) return -1;
    while (true) {
      int index = nextBit(map, start, size, false);
      long end = index + nr;
      if (end > size) return -1;
      int busy = nextBit(map, index, (int) end, true);
      if (busy >= end) return index;
      start = busy + 1;
    }
  }

  /**
   * The first bit at or after {@code from} (below {@code to}) that is {@code value}, else {@code
   * to}.
   */
  private static int nextBit(long[] map, int from, int to, boolean value) {
    if (from >= to) return to;
    int w = from >>> 6;
    long word = (value ? map[w] : ~map[w]) & (-1L << from);
    while (word == 0) {
      if (++w << 6 >= to) return to;
      word = value ? map[w] : ~map[w];
    }
    return Math.min(to, (w << 6) + Long.numberOfTrailingZeros(word));
  }

  private static void set(long[] map, int from, int to) {
    for (int i = from; i < to; i++) map[i >>> 6] |= 1L << i;
  }

  private static void clear(long[] map, int from, int to) {
    for (int i = from; i < to; i++) map[i >>> 6] &= ~(1L << i);
  }

  /** alloc_new_range(): one more range, with the reservations that fall in it. */
  private void allocNewRange() {
    if (apertureRanges == ranges.length) ranges = Arrays.copyOf(ranges, ranges.length * 2);
    ranges[apertureRanges] = new long[rangePages / 64];
    apertureRanges++;
    reserved.forEach((lo, hi) -> reserveIn(apertureRanges - 1, lo, hi));
  }

  private void reserveIn(int range, long lo, long hi) {
    long offset = (long) range * rangePages;
    long from = Math.max(lo, offset);
    long to = Math.min(hi + 1, offset + rangePages);
    if (from < to) set(ranges[range], (int) (from - offset), (int) (to - offset));
  }

  @Override
  public void save(SnapshotOutput out) {
    out.writeVarInt(FORMAT_VERSION)
        .writeVarInt(rangePages)
        .writeVarInt(maxRanges)
        .writeVarInt(apertureRanges);
    for (int i = 0; i < apertureRanges; i++) {
      long[] map = ranges[i];
      int used = 0;
      for (long word : map) if (word != 0) used++;
      out.writeVarInt(used);
      for (int w = 0; w < map.length; w++) if (map[w] != 0) out.writeVarInt(w).writeLong(map[w]);
    }
    out.writeVarLong(nextPfn)
        .writeBoolean(needFlush)
        .writeBoolean(lastWrapped)
        .writeVarLong(fullFlushes)
        .writeVarLong(pageFlushes);
    reserved.save(out);
    counters.save(out);
  }

  public static BitmapIovaAllocator restore(SnapshotInput in) {
    int version = in.readVarInt();
    if (version != FORMAT_VERSION)
      throw new SnapshotFormatException("BitmapIovaAllocator version " + version);
    int rangePages = in.readVarInt();
    int maxRanges = in.readVarInt();
    int apertureRanges = in.readVarInt();
    if (rangePages < 64
        || rangePages % 64 != 0
        || apertureRanges < 1
        || apertureRanges > maxRanges) {
      throw new SnapshotFormatException(
          apertureRanges + " of " + maxRanges + " ranges of " + rangePages);
    }
    long[][] ranges = new long[apertureRanges][];
    for (int i = 0; i < apertureRanges; i++) {
      ranges[i] = new long[rangePages / 64];
      for (int n = in.readCount(); n > 0; n--) {
        int w = in.readVarInt();
        if (w >= ranges[i].length) throw new SnapshotFormatException("bitmap word " + w);
        ranges[i][w] = in.readLong();
      }
    }
    long nextPfn = in.readVarLong();
    boolean needFlush = in.readBoolean();
    boolean lastWrapped = in.readBoolean();
    long fullFlushes = in.readVarLong();
    long pageFlushes = in.readVarLong();
    BitmapIovaAllocator a =
        new BitmapIovaAllocator(
            rangePages, maxRanges, ReservedRanges.restore(in), IovaCounters.restore(in));
    a.ranges = ranges;
    a.apertureRanges = apertureRanges;
    a.nextPfn = nextPfn;
    a.needFlush = needFlush;
    a.lastWrapped = lastWrapped;
    a.fullFlushes = fullFlushes;
    a.pageFlushes = pageFlushes;
    return a;
  }
}
