package io.iommureplay.model.iova;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.Arrays;
import java.util.Objects;

/**
 * One {@code struct iova_domain} of drivers/iommu/iova.c: the rbtree allocator ({@link IovaRbtree})
 * behind the per-CPU "rcache" of Peleg et al. (magazines after Bonwick &amp; Adams). Each of the
 * {@value #IOVA_RANGE_CACHE_MAX_SIZE} size classes (orders 0–5, 1–32 pages) has, per CPU, a {@code
 * loaded} and a {@code prev} magazine, and a depot of full magazines shared by all CPUs. Pfns
 * sitting in a cache still look allocated in the rbtree. Magazine size and depot rules come from a
 * {@link KernelProfile}.
 *
 * <p>Memory: the rbtree costs 28 bytes a range; a magazine is one {@code long[]}.
 */
public final class LinuxIovaAllocator implements IovaAllocator {
  /** IOVA_RANGE_CACHE_MAX_SIZE: requests of order 6 and up always go to the rbtree. */
  public static final int IOVA_RANGE_CACHE_MAX_SIZE = 6;

  /** Where {@link #adopt} found the kernel's pfn in the model. */
  public enum Adoption {
    /** In a per-CPU magazine or the depot: taken out. */
    FROM_CACHE,
    /** Free in the rbtree (or overlapped by stale ranges, freed first): allocated there. */
    FROM_RBTREE,
    /**
     * Already allocated in the rbtree and not cached: the model never saw the free that gave it
     * back (a missed free_iova_fast kprobe hit). Left allocated.
     */
    ALREADY_ALLOCATED,
    /** The kernel's allocation failed: the model's choice was only undone. */
    KERNEL_FAILED
  }

  private static final int FORMAT_VERSION = 1;
  private static final long NO_WORK = Long.MAX_VALUE;
  private static final int NONE = 0;
  private static final int CACHE = 1;
  private static final int RBTREE = 2;

  private final KernelProfile profile;
  private final int cpus;
  private final IovaRbtree rbtree;
  private final ReservedRanges reserved;
  private final IovaCounters counters;
  private final Magazine[] loaded; // [sizeClass * cpus + cpu]
  private final Magazine[] prev;
  private final Magazine[][] depot; // per size class a stack, newest on top
  private final int[] depotSize;
  private final long[]
      depotWorkDueNs; // per size class: when iova_depot_work_func() runs, or NO_WORK
  private long nextDepotWorkNs = NO_WORK;

  // The last alloc_iova_fast(), so that adopt() can undo it.
  private int lastSource = NONE;
  private long lastPfn;
  private int lastSlot;
  private int lastIndex;
  private boolean lastSwapped;
  private boolean lastFromDepot;
  private long savedCachedLo;
  private long savedCached32Lo;
  private long savedMax32;

  /**
   * init_iova_domain() and iova_domain_init_rcaches().
   *
   * @param cpus the CPUs (all online) that may allocate; CPU numbers are 0 to cpus − 1
   * @param granuleShift log2 of the granule (12 for 4 KiB)
   * @param startPfn the lowest pfn handed out (dma-iommu: 1)
   */
  public LinuxIovaAllocator(KernelProfile profile, int cpus, int granuleShift, long startPfn) {
    this(
        profile,
        cpus,
        new IovaRbtree(granuleShift, startPfn),
        new ReservedRanges(),
        new IovaCounters());
  }

  private LinuxIovaAllocator(
      KernelProfile profile,
      int cpus,
      IovaRbtree rbtree,
      ReservedRanges reserved,
      IovaCounters counters) {
    if (cpus < 1) throw new IllegalArgumentException("cpus " + cpus);
    this.profile = profile;
    this.cpus = cpus;
    this.rbtree = rbtree;
    this.reserved = reserved;
    this.counters = counters;
    int slots = IOVA_RANGE_CACHE_MAX_SIZE * cpus;
    loaded = new Magazine[slots];
    prev = new Magazine[slots];
    for (int i = 0; i < slots; i++) {
      loaded[i] = new Magazine(profile.magazineSize());
      prev[i] = new Magazine(profile.magazineSize());
    }
    depot = new Magazine[IOVA_RANGE_CACHE_MAX_SIZE][4];
    depotSize = new int[IOVA_RANGE_CACHE_MAX_SIZE];
    depotWorkDueNs = new long[IOVA_RANGE_CACHE_MAX_SIZE];
    Arrays.fill(depotWorkDueNs, NO_WORK);
  }

  public KernelProfile profile() {
    return profile;
  }

  /** alloc_iova_fast() with flush_rcache set, as dma-iommu's full-mask attempt calls it. */
  @Override
  public long allocate(long pages, long limitPfn, int cpu, long nowNs) {
    return allocIovaFast(pages, limitPfn, true, cpu, nowNs);
  }

  /** alloc_iova_fast() with flush_rcache clear, as dma-iommu's 32-bit attempt calls it. */
  @Override
  public long tryAllocate(long pages, long limitPfn, int cpu, long nowNs) {
    return allocIovaFast(pages, limitPfn, false, cpu, nowNs);
  }

  /**
   * alloc_iova_fast(): sizes under 32 pages rounded up to a power of two; then the CPU's cache
   * (iova_rcache_get()), else the rbtree (alloc_iova(), size-aligned); if that fails and {@code
   * flushRcache}, every CPU's cache and the depot go back to the rbtree (free_cpu_cached_iovas(),
   * free_global_cached_iovas()) and the rbtree is tried once more.
   */
  public long allocIovaFast(long pages, long limitPfn, boolean flushRcache, int cpu, long nowNs) {
    Objects.checkIndex(cpu, cpus);
    if (pages < 1) throw new IllegalArgumentException("pages " + pages);
    enter(nowNs);
    counters.allocations++;
    long size = roundedSize(pages);
    long pfn = rcacheGet(size, limitPfn + 1, cpu);
    if (pfn != FAILED) {
      lastSource = CACHE;
      lastPfn = pfn;
      counters.cacheHits++;
      return counters.allocated(pfn);
    }
    pfn = rbtreeAlloc(size, limitPfn, true);
    if (pfn == FAILED && flushRcache) {
      for (int c = 0; c < cpus; c++) freeCpuCachedIovas(c);
      freeGlobalCachedIovas();
      pfn = rbtreeAlloc(size, limitPfn, true);
    }
    lastSource = RBTREE;
    lastPfn = pfn;
    return pfn == FAILED ? failed(size, limitPfn) : counters.allocated(pfn);
  }

  /** alloc_iova(): the rbtree alone, no rounding, no cache. */
  public long allocIova(long pages, long limitPfn, boolean sizeAligned, long nowNs) {
    if (pages < 1) throw new IllegalArgumentException("pages " + pages);
    enter(nowNs);
    counters.allocations++;
    long pfn = rbtreeAlloc(pages, limitPfn, sizeAligned);
    return pfn == FAILED ? failed(pages, limitPfn) : counters.allocated(pfn);
  }

  /**
   * free_iova_fast(): into the CPU's cache (iova_rcache_insert()), else (order 6 and up) back to
   * the rbtree with free_iova().
   */
  @Override
  public void free(long pfn, long pages, int cpu, long nowNs) {
    Objects.checkIndex(cpu, cpus);
    enter(nowNs);
    counters.freed(pfn);
    if (!rcacheInsert(pfn, pages, cpu, nowNs)) {
      counters.globalLocks++;
      rbtree.free(pfn);
    }
  }

  /** free_iova(): the range holding {@code pfn} back to the rbtree; false if none held it. */
  public boolean freeIova(long pfn, long nowNs) {
    enter(nowNs);
    counters.freed(pfn);
    counters.globalLocks++;
    return rbtree.free(pfn);
  }

  /** remove_iova() of the range {@code [pfnLo, pfnHi]}; false if the rbtree has no such range. */
  public boolean removeIova(long pfnLo, long pfnHi, long nowNs) {
    enter(nowNs);
    counters.freed(pfnLo);
    counters.globalLocks++;
    return rbtree.remove(pfnLo, pfnHi);
  }

  /** reserve_iova(). */
  @Override
  public void reserve(long pfnLo, long pfnHi) {
    lastSource = NONE;
    counters.globalLocks++;
    reserved.add(pfnLo, pfnHi);
    rbtree.reserve(pfnLo, pfnHi);
  }

  /**
   * free_cpu_cached_iovas(): the CPU's loaded and prev magazines of every size class back to the
   * rbtree (what CPU hot-unplug and a failing flush_rcache allocation do).
   */
  public void freeCpuCachedIovas(int cpu) {
    Objects.checkIndex(cpu, cpus);
    lastSource = NONE;
    for (int c = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      magazineFreePfns(loaded[c * cpus + cpu]);
      magazineFreePfns(prev[c * cpus + cpu]);
    }
  }

  /**
   * After the last {@link #allocIovaFast} returned something other than what the kernel returned
   * (the replay knows the kernel's pfn from the trace), puts the model into the kernel's state:
   * undoes the model's choice, then takes {@code kernelPfn} ({@code pages} as the call asked) from
   * the CPU's magazines if it is cached there (else the depot, else another CPU's magazines), else
   * from the rbtree, as alloc_iova() would have placed it.
   *
   * <p>One choice is not undone: if both came from the same magazine, the kernel's pop found its
   * pfn topmost where the model found its own higher up, so the kernel's magazine did not hold the
   * model's pick there; most likely an allocation the trace missed took it. It stays allocated, out
   * of the cache (a later free of it finds it {@link #isLive}).
   */
  public Adoption adopt(long kernelPfn, long pages, int cpu, long nowNs) {
    Objects.checkIndex(cpu, cpus);
    runDueWork(nowNs);
    long size = roundedSize(pages);
    int c = sizeClass(size);
    if (lastSource == CACHE && lastSlot == c * cpus + cpu && loaded[lastSlot].remove(kernelPfn)) {
      lastSource = NONE; // the model's pick stays allocated: see above
      return Adoption.FROM_CACHE;
    }
    undoLastAllocation();
    if (kernelPfn == FAILED) return Adoption.KERNEL_FAILED;
    if (c < IOVA_RANGE_CACHE_MAX_SIZE && takeCached(c, cpu, kernelPfn)) return Adoption.FROM_CACHE;
    if (rbtree.lastPfnOfRangeAt(kernelPfn) == kernelPfn + size - 1)
      return Adoption.ALREADY_ALLOCATED;
    counters.globalLocks++;
    rbtree.take(kernelPfn, size);
    return Adoption.FROM_RBTREE;
  }

  /** Full magazines in the depot of a size class. */
  public int depotMagazines(int sizeClass) {
    return depotSize[sizeClass];
  }

  /** Pfns cached in {@code cpu}'s loaded and prev magazines of a size class. */
  public int cachedOnCpu(int sizeClass, int cpu) {
    return loaded[sizeClass * cpus + cpu].size + prev[sizeClass * cpus + cpu].size;
  }

  /**
   * An allocated range starts at {@code pfn} and no cache holds it: the model takes it for live, so
   * freeing it is consistent. Costs a scan of every cached pfn: for repairs, not per event.
   */
  public boolean isLive(long pfn) {
    if (rbtree.lastPfnOfRangeAt(pfn) < 0) return false;
    for (int i = 0; i < loaded.length; i++)
      if (loaded[i].contains(pfn) || prev[i].contains(pfn)) return false;
    for (int c = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      for (int j = 0; j < depotSize[c]; j++) if (depot[c][j].contains(pfn)) return false;
    }
    return true;
  }

  @Override
  public AllocatorStats stats() {
    return counters.stats();
  }

  @Override
  public FragmentationSample fragmentation(long limitPfn) {
    long first = rbtree.startPfn();
    HoleScanner scanner = new HoleScanner(first, limitPfn, rbtree.dma32BitPfn());
    rbtree.forEach(scanner);
    long cached = 0;
    for (int c = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      long count = 0;
      for (int cpu = 0; cpu < cpus; cpu++) {
        count += loaded[c * cpus + cpu].countWithin(first, limitPfn);
        count += prev[c * cpus + cpu].countWithin(first, limitPfn);
      }
      for (int j = 0; j < depotSize[c]; j++) count += depot[c][j].countWithin(first, limitPfn);
      cached += count << c;
    }
    return scanner.finish(reserved.pagesWithin(first, limitPfn), cached);
  }

  // ---- rcache (iova.c: __iova_rcache_get(), __iova_rcache_insert(), the depot) ----

  /** iova_rcache_get() → __iova_rcache_get(rcache, limit_pfn − size) → iova_magazine_pop(). */
  private long rcacheGet(long size, long limitPfnExclusive, int cpu) {
    int c = sizeClass(size);
    if (c >= IOVA_RANGE_CACHE_MAX_SIZE) return FAILED;
    int slot = c * cpus + cpu;
    lastSlot = slot;
    lastSwapped = false;
    lastFromDepot = false;
    Magazine mag = loaded[slot];
    if (mag.size == 0) {
      if (prev[slot].size > 0) {
        swap(slot);
        lastSwapped = true;
      } else {
        counters.globalLocks++; // rcache->lock
        if (depotSize[c] == 0) return FAILED;
        loaded[slot] = depot[c][--depotSize[c]];
        lastFromDepot = true;
      }
      mag = loaded[slot];
    }
    // Only fall back to the rbtree if no pfn at all is below the limit; the one found
    // (searching from the top) is replaced by the top one.
    long limit = limitPfnExclusive - size;
    int i = mag.size - 1;
    while (mag.pfns[i] > limit) {
      if (i == 0) return FAILED;
      i--;
    }
    long pfn = mag.pfns[i];
    mag.pfns[i] = mag.pfns[--mag.size];
    lastIndex = i;
    return pfn;
  }

  /**
   * iova_rcache_insert() → __iova_rcache_insert(): push onto loaded; if full, swap with prev; if
   * both are full, loaded goes to the depot (or, depot full, back to the rbtree) and a new magazine
   * is loaded. False for order 6 and up.
   */
  private boolean rcacheInsert(long pfn, long pages, int cpu, long nowNs) {
    int c = sizeClass(pages);
    if (c >= IOVA_RANGE_CACHE_MAX_SIZE) return false;
    int slot = c * cpus + cpu;
    Magazine mag = loaded[slot];
    Magazine toFree = null;
    if (mag.size == profile.magazineSize()) {
      if (prev[slot].size < profile.magazineSize()) {
        swap(slot);
      } else {
        counters.globalLocks++; // rcache->lock
        if (depotSize[c] < profile.maxGlobalMags()) {
          depotPush(c, mag);
          scheduleDepotWork(c, nowNs);
        } else {
          toFree = mag;
        }
        loaded[slot] = new Magazine(profile.magazineSize());
      }
      mag = loaded[slot];
    }
    mag.pfns[mag.size++] = pfn;
    if (toFree != null) magazineFreePfns(toFree);
    return true;
  }

  /** free_global_cached_iovas(): every depot magazine back to the rbtree. */
  private void freeGlobalCachedIovas() {
    for (int c = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      counters.globalLocks++; // rcache->lock
      if (profile.depotIsList()) {
        while (depotSize[c] > 0) magazineFreePfns(depot[c][--depotSize[c]]);
      } else {
        for (int j = 0; j < depotSize[c]; j++) magazineFreePfns(depot[c][j]);
        depotSize[c] = 0;
      }
    }
  }

  /** iova_magazine_free_pfns(): under iova_rbtree_lock, each pfn's range is removed. */
  private void magazineFreePfns(Magazine mag) {
    counters.globalLocks++;
    for (int i = 0; i < mag.size; i++) rbtree.free(mag.pfns[i]);
    mag.size = 0;
  }

  /** schedule_delayed_work(&amp;rcache-&gt;work, IOVA_DEPOT_DELAY): no-op while pending. */
  private void scheduleDepotWork(int c, long nowNs) {
    if (profile.depotTrimDelayNs() == 0 || depotWorkDueNs[c] != NO_WORK) return;
    depotWorkDueNs[c] = nowNs + profile.depotTrimDelayNs();
    nextDepotWorkNs = Math.min(nextDepotWorkNs, depotWorkDueNs[c]);
  }

  /**
   * Starts a call: due timed work first; an undo log of an earlier allocation no longer applies.
   */
  private void enter(long nowNs) {
    runDueWork(nowNs);
    lastSource = NONE;
  }

  /**
   * iova_depot_work_func() for every size class whose work is due by {@code nowNs}, in time order:
   * while the depot holds more magazines than online CPUs, one goes back to the rbtree and the work
   * comes again IOVA_DEPOT_DELAY later.
   */
  private void runDueWork(long nowNs) {
    while (nextDepotWorkNs <= nowNs) {
      int c = 0;
      for (int k = 1; k < IOVA_RANGE_CACHE_MAX_SIZE; k++)
        if (depotWorkDueNs[k] < depotWorkDueNs[c]) c = k;
      long due = depotWorkDueNs[c];
      depotWorkDueNs[c] = NO_WORK;
      counters.globalLocks++; // rcache->lock
      if (depotSize[c] > cpus) {
        magazineFreePfns(depot[c][--depotSize[c]]);
        depotWorkDueNs[c] = due + profile.depotTrimDelayNs();
      }
      nextDepotWorkNs = NO_WORK;
      for (long d : depotWorkDueNs) nextDepotWorkNs = Math.min(nextDepotWorkNs, d);
    }
  }

  private void depotPush(int c, Magazine mag) {
    if (depotSize[c] == depot[c].length) depot[c] = Arrays.copyOf(depot[c], depot[c].length * 2);
    depot[c][depotSize[c]++] = mag;
  }

  private void swap(int slot) {
    Magazine m = loaded[slot];
    loaded[slot] = prev[slot];
    prev[slot] = m;
  }

  // ---- adopt() ----

  private void undoLastAllocation() {
    if (lastSource == CACHE) {
      Magazine mag = loaded[lastSlot];
      mag.size++;
      mag.pfns[mag.size - 1] = mag.pfns[lastIndex];
      mag.pfns[lastIndex] = lastPfn;
      if (lastFromDepot) {
        depotPush(lastSlot / cpus, mag);
        loaded[lastSlot] = new Magazine(profile.magazineSize());
      } else if (lastSwapped) {
        swap(lastSlot);
      }
    } else if (lastSource == RBTREE) {
      rbtree.rollback(lastPfn, savedCachedLo, savedCached32Lo, savedMax32);
    }
    lastSource = NONE;
  }

  private boolean takeCached(int c, int cpu, long pfn) {
    int slot = c * cpus + cpu;
    if (loaded[slot].remove(pfn) || prev[slot].remove(pfn)) return true;
    for (int j = depotSize[c] - 1; j >= 0; j--) {
      if (depot[c][j].remove(pfn)) {
        if (depot[c][j].size == 0) { // the depot holds no empty magazine
          System.arraycopy(depot[c], j + 1, depot[c], j, --depotSize[c] - j);
        }
        return true;
      }
    }
    for (int other = c * cpus; other < (c + 1) * cpus; other++) {
      if (loaded[other].remove(pfn) || prev[other].remove(pfn)) return true;
    }
    return false;
  }

  // ---- helpers ----

  private long rbtreeAlloc(long size, long limitPfn, boolean sizeAligned) {
    counters.globalLocks++; // iova_rbtree_lock
    savedCachedLo = rbtree.cachedNodeLo();
    savedCached32Lo = rbtree.cached32NodeLo();
    savedMax32 = rbtree.max32AllocSize();
    return rbtree.alloc(size, limitPfn, sizeAligned);
  }

  private long failed(long size, long limitPfn) {
    counters.failures++;
    if (limitPfn < rbtree.dma32BitPfn()) counters.iova32Failures++;
    if (rbtree.freePagesUpTo(limitPfn) >= size) counters.fragmentedFailures++;
    return FAILED;
  }

  /** alloc_iova_fast() calls served by a per-CPU cache or the depot so far. */
  public long cacheHits() {
    return counters.cacheHits;
  }

  /** alloc_iova_fast(): sizes below 2^(IOVA_RANGE_CACHE_MAX_SIZE − 1) become powers of two. */
  private static long roundedSize(long pages) {
    if (pages >= 1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)) return pages;
    return pages == 1 ? 1 : Long.highestOneBit(pages - 1) << 1; // roundup_pow_of_two()
  }

  /** order_base_2(size): the rcache size class. */
  private static int sizeClass(long size) {
    return 64 - Long.numberOfLeadingZeros(size - 1);
  }

  /** struct iova_magazine. */
  private static final class Magazine {
    final long[] pfns;
    int size;

    Magazine(int capacity) {
      pfns = new long[capacity];
    }

    boolean contains(long pfn) {
      for (int i = 0; i < size; i++) if (pfns[i] == pfn) return true;
      return false;
    }

    boolean remove(long pfn) {
      for (int i = size - 1; i >= 0; i--) {
        if (pfns[i] == pfn) {
          pfns[i] = pfns[--size];
          return true;
        }
      }
      return false;
    }

    long countWithin(long first, long last) {
      long n = 0;
      for (int i = 0; i < size; i++) if (pfns[i] >= first && pfns[i] <= last) n++;
      return n;
    }

    void save(SnapshotOutput out) {
      out.writeVarInt(size);
      for (int i = 0; i < size; i++) out.writeVarLong(pfns[i]);
    }

    static Magazine restore(SnapshotInput in, int capacity) {
      Magazine m = new Magazine(capacity);
      m.size = in.readCount();
      if (m.size > capacity) throw new SnapshotFormatException("magazine of " + m.size + " pfns");
      for (int i = 0; i < m.size; i++) m.pfns[i] = in.readVarLong();
      return m;
    }
  }

  // ---- snapshot ----

  @Override
  public void save(SnapshotOutput out) {
    out.writeVarInt(FORMAT_VERSION);
    out.writeString(profile.name())
        .writeVarInt(profile.magazineSize())
        .writeVarInt(profile.maxGlobalMags())
        .writeVarLong(profile.depotTrimDelayNs())
        .writeBoolean(profile.stickyPciSacFallback());
    out.writeVarInt(cpus);
    rbtree.save(out);
    reserved.save(out);
    counters.save(out);
    for (int i = 0; i < loaded.length; i++) {
      loaded[i].save(out);
      prev[i].save(out);
    }
    for (int c = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      out.writeVarInt(depotSize[c]);
      for (int j = 0; j < depotSize[c]; j++) depot[c][j].save(out);
      out.writeLong(depotWorkDueNs[c]);
    }
    out.writeVarInt(lastSource)
        .writeLong(lastPfn)
        .writeVarInt(lastSlot)
        .writeVarInt(lastIndex)
        .writeBoolean(lastSwapped)
        .writeBoolean(lastFromDepot)
        .writeLong(savedCachedLo)
        .writeLong(savedCached32Lo)
        .writeVarLong(savedMax32);
  }

  public static LinuxIovaAllocator restore(SnapshotInput in) {
    int version = in.readVarInt();
    if (version != FORMAT_VERSION)
      throw new SnapshotFormatException("LinuxIovaAllocator version " + version);
    KernelProfile profile =
        new KernelProfile(
            in.readString(), in.readVarInt(), in.readVarInt(), in.readVarLong(), in.readBoolean());
    int cpus = in.readVarInt();
    if (cpus < 1 || cpus > 1 << 16) throw new SnapshotFormatException("cpus " + cpus);
    LinuxIovaAllocator a =
        new LinuxIovaAllocator(
            profile,
            cpus,
            IovaRbtree.restore(in),
            ReservedRanges.restore(in),
            IovaCounters.restore(in));
    for (int i = 0; i < a.loaded.length; i++) {
      a.loaded[i] = Magazine.restore(in, profile.magazineSize());
      a.prev[i] = Magazine.restore(in, profile.magazineSize());
    }
    for (int c = 0; c < IOVA_RANGE_CACHE_MAX_SIZE; c++) {
      for (int j = in.readCount(); j > 0; j--)
        a.depotPush(c, Magazine.restore(in, profile.magazineSize()));
      a.depotWorkDueNs[c] = in.readLong();
      a.nextDepotWorkNs = Math.min(a.nextDepotWorkNs, a.depotWorkDueNs[c]);
    }
    a.lastSource = in.readVarInt();
    a.lastPfn = in.readLong();
    a.lastSlot = in.readVarInt();
    a.lastIndex = in.readVarInt();
    a.lastSwapped = in.readBoolean();
    a.lastFromDepot = in.readBoolean();
    a.savedCachedLo = in.readLong();
    a.savedCached32Lo = in.readLong();
    a.savedMax32 = in.readVarLong();
    if (a.lastSlot >= a.loaded.length || a.lastIndex >= profile.magazineSize()) {
      throw new SnapshotFormatException(
          "last allocation at slot " + a.lastSlot + " index " + a.lastIndex);
    }
    return a;
  }
}
