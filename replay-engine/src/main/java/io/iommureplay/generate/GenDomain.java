package io.iommureplay.generate;

import io.iommureplay.model.flushqueue.FlushQueue;
import io.iommureplay.model.flushqueue.FlushQueueListener;
import io.iommureplay.model.flushqueue.FlushQueueParams;
import io.iommureplay.model.flushqueue.FlushReason;
import io.iommureplay.model.iova.AllocatorStats;
import io.iommureplay.model.iova.DmaIommuIovaPolicy;
import io.iommureplay.model.iova.FragmentationSample;
import io.iommureplay.model.iova.IovaAllocator;
import io.iommureplay.model.iova.KernelProfile;
import io.iommureplay.model.iova.LinuxIovaAllocator;
import io.iommureplay.model.pagetable.IoPageTable;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.model.pagetable.TableFreeTiming;
import io.iommureplay.model.pagetable.TablePage;
import io.iommureplay.model.pagetable.TablePageListener;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceBinding;
import io.iommureplay.schema.DomainLifecycle;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaPath;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.ReservedRegion;
import io.iommureplay.schema.ReservedRegionKind;
import io.iommureplay.schema.TableFreeMode;
import io.iommureplay.schema.Unmapping;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One IOMMU domain of a generated host and the kernel paths that drive it, each emitting the events
 * Linux would trace, in Linux's order:
 *
 * <ul>
 *   <li>DMA-API allocation: dma-iommu's {@code iommu_dma_alloc_iova()} through {@link
 *       DmaIommuIovaPolicy} on a {@link LinuxIovaAllocator}, one IOVA_ALLOC per {@code
 *       alloc_iova_fast()} call (the 32-bit try and the full-mask one), so that the model's
 *       allocator replay makes the same choices;
 *   <li>{@code iommu_map()}: the page table ({@link IoPageTable}, VT-d second stage, 4 levels)
 *       installs tables (PGTABLE_ALLOC, within the map's execution) and, for a superpage over a
 *       table of small pages, frees that table at once (PGTABLE_FREE IMMEDIATE) and flushes its
 *       range, then MAP;
 *   <li>strict unmap (DMA and UNMANAGED domains): UNMAP, the page-selective IOTLB_FLUSH (trigger
 *       SYNC) exactly as {@code intel_iommu_tlb_sync()} words it ({@code PsiAlignment}; IH=1 only
 *       when no table page was freed), the freed table pages (PGTABLE_FREE AFTER_FLUSH), IOVA_FREE;
 *   <li>lazy unmap (DMA_FQ): UNMAP, FQ_ENQUEUE, and whatever {@code queue_iova()} does on the
 *       per-CPU ring of a predicting {@link FlushQueue}: reaps (the released entries' table pages,
 *       then their IOVA_FREE) and, on a full ring, FQ_FLUSH + IOTLB_FLUSH (DOMAIN, FQ_FULL); the
 *       timer flush (FQ_TIMER) comes 10 ms after the first enqueue of a batch, on the CPU that
 *       armed it.
 * </ul>
 */
final class GenDomain implements TablePageListener, FlushQueueListener {
  /** The x86 MSI window, reserved in every DMA domain's IOVA space. */
  static final long MSI_START = 0xfee00000L;

  static final long MSI_SIZE = 0x100000L;

  static final int GRANULE_SHIFT = 12;

  /** 48-bit VT-d second stage: the highest pfn a 64-bit device may get. */
  static final long APERTURE_LIMIT_PFN = (1L << (48 - GRANULE_SHIFT)) - 1;

  static final PageTableFormat FORMAT = PageTableFormat.vtdSecondStage(4, 2);

  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;
  static final int PROT_CACHE = 4;

  final HostGenerator h;
  final long id;
  final String device;
  final DomainType type;
  final int groupId;

  /** DMA_FQ: unmaps go through the flush queue. */
  final boolean lazy;

  /** Owned by dma-iommu (DMA or DMA_FQ): IOVAs come from the allocator. */
  final boolean dma;

  final IoPageTable pt;
  final PhysPool pool;

  /** Live table pages → their physical address. */
  private final IdentityHashMap<TablePage, Long> tableAddress = new IdentityHashMap<>();

  /** Span starts of the live level-1 tables (for injections that need a fresh 2 MiB span). */
  final Set<Long> level1Spans = new HashSet<>();

  private final List<TablePage> installed = new ArrayList<>();
  private final List<TablePage> freedNow = new ArrayList<>();
  private TablePage root;

  LinuxIovaAllocator allocator;
  private DmaIommuIovaPolicy policy;
  long dmaLimitPfn;

  FlushQueue fq;
  int timerCpu;

  /** CPU that the flush-queue callbacks run on (the enqueuing CPU, or the timer's). */
  private int cbCpu;

  /** Domain-wide flushes so far: a window opened at count k is closed once it exceeds k. */
  long flushCount;

  IommuEvent lastFlushEvent;

  /** Lazy: unmaps since the last domain-wide flush (their windows are open). */
  final OpenWindows openWindows = new OpenWindows();

  /** While true the timer does not fire (LONG_WINDOW). */
  boolean timerSuppressed;

  /** While true no normal traffic runs on this domain. */
  boolean paused;

  /** The injection using this domain, or null. */
  Object busyWith;

  /** End of the normal page-table walk (debugfs dump) of this domain in progress, if any. */
  long walkUntilNs;

  /** Next RESERVED_REGION_MAPPING slot. */
  int reservedSlot;

  private final Map<Long, EntryMeta> entryMeta = new HashMap<>();
  private long nextEntryId;
  private EntryMeta current;

  /** Pieces unmapped but held until the next flush (recycleInWindow false). */
  private final List<Buffer> heldUntilFlush = new ArrayList<>();

  /** What to do when a queued entry is released. */
  static final class EntryMeta {
    final List<TablePage> tables;
    final boolean freeIova;
    final Runnable onRelease;

    EntryMeta(List<TablePage> tables, boolean freeIova, Runnable onRelease) {
      this.tables = tables;
      this.freeIova = freeIova;
      this.onRelease = onRelease;
    }
  }

  GenDomain(
      HostGenerator h,
      long id,
      String device,
      DomainType type,
      int groupId,
      PhysPool pool,
      long dmaMaskPfn) {
    this.h = h;
    this.id = id;
    this.device = device;
    this.type = type;
    this.groupId = groupId;
    this.lazy = type == DomainType.DMA_FQ;
    this.dma = type == DomainType.DMA || type == DomainType.DMA_FQ;
    this.pool = pool;
    this.pt = new IoPageTable(FORMAT, this);
    if (dma) {
      allocator = new LinuxIovaAllocator(KernelProfile.LINUX_6_7, h.possibleCpus, GRANULE_SHIFT, 1);
      policy =
          new DmaIommuIovaPolicy(
              new TracingAllocator(), KernelProfile.LINUX_6_7, GRANULE_SHIFT, true, false);
      dmaLimitPfn = Math.min(dmaMaskPfn, APERTURE_LIMIT_PFN);
    }
    if (lazy) fq = FlushQueue.predicting(FlushQueueParams.PER_CPU, h.possibleCpus, this);
  }

  /**
   * The domain's setup as the kernel traces it: DEVICE_ADD, DOMAIN_ALLOC, the root table, ATTACH,
   * and for DMA domains IOVA_DOMAIN_INIT and the reservation of the MSI window; the device's MSI
   * region.
   */
  void setup(int cpu) {
    h.tick(1_000, 5_000);
    h.emit(EventType.DEVICE_ADD, cpu, null, device, Attribution.NOT_NEEDED, binding());
    h.tick(500, 2_000);
    h.emit(
        EventType.DOMAIN_ALLOC,
        cpu,
        this,
        device,
        Attribution.TRACE,
        new DomainLifecycle(
            type, io.iommureplay.schema.PageTableFormat.VTD_SECOND_STAGE, 48, null));
    h.tick(100, 500);
    emitTableAlloc(root, cpu);
    h.tick(500, 2_000);
    h.emit(EventType.ATTACH, cpu, this, device, Attribution.TRACE, binding());
    if (dma) {
      h.tick(100, 500);
      h.emit(
          EventType.IOVA_DOMAIN_INIT,
          cpu,
          this,
          device,
          Attribution.TRACE,
          new IovaDomainInit(1L << GRANULE_SHIFT, 1L, null, groupId));
      long lo = MSI_START >>> GRANULE_SHIFT;
      long hi = (MSI_START + MSI_SIZE - 1) >>> GRANULE_SHIFT;
      h.tick(100, 500);
      h.emit(EventType.IOVA_RESERVE, cpu, this, device, Attribution.TRACE, new IovaRange(lo, hi));
      allocator.reserve(lo, hi);
    }
    h.tick(100, 500);
    h.emit(
        EventType.RESERVED_REGION,
        cpu,
        this,
        device,
        Attribution.TRACE,
        new ReservedRegion(ReservedRegionKind.MSI, MSI_START, MSI_SIZE));
  }

  DeviceBinding binding() {
    return new DeviceBinding(groupId);
  }

  // ---- IOVA allocation ----

  /**
   * iommu_dma_alloc_iova() of {@code pages} granules on {@code cpu}: one IOVA_ALLOC per
   * alloc_iova_fast() call. Returns the pfn or {@link IovaAllocator#FAILED}.
   */
  long allocIova(long pages, int cpu) {
    tracingCpu = cpu;
    return policy.allocIova(pages, dmaLimitPfn, cpu, h.now);
  }

  /** free_iova_fast() on {@code cpu}. */
  IommuEvent freeIova(long pfn, long pages, int cpu) {
    h.tick(50, 300);
    IommuEvent e =
        h.emit(
            EventType.IOVA_FREE,
            cpu,
            this,
            device,
            Attribution.TRACE,
            new IovaFree(IovaPath.FAST, pfn, pages));
    allocator.free(pfn, pages, cpu, h.now);
    return e;
  }

  private int tracingCpu;

  /** Emits one IOVA_ALLOC per call the dma-iommu policy makes of the allocator. */
  private final class TracingAllocator implements IovaAllocator {
    @Override
    public long allocate(long pages, long limitPfn, int cpu, long nowNs) {
      return call(pages, limitPfn, true);
    }

    @Override
    public long tryAllocate(long pages, long limitPfn, int cpu, long nowNs) {
      return call(pages, limitPfn, false);
    }

    private long call(long pages, long limitPfn, boolean flushRcache) {
      h.tick(100, 400);
      long hits = allocator.stats().cacheHits();
      long pfn = allocator.allocIovaFast(pages, limitPfn, flushRcache, tracingCpu, h.now);
      boolean fromCache = allocator.stats().cacheHits() > hits;
      h.emit(
          EventType.IOVA_ALLOC,
          tracingCpu,
          GenDomain.this,
          device,
          Attribution.TRACE,
          new IovaAllocation(
              IovaPath.FAST,
              pages,
              limitPfn,
              pfn == FAILED ? null : pfn,
              fromCache,
              true,
              flushRcache));
      if (pfn == FAILED) lastFailedAlloc = h.lastEvent;
      return pfn;
    }

    @Override
    public void free(long pfn, long pages, int cpu, long nowNs) {
      allocator.free(pfn, pages, cpu, nowNs);
    }

    @Override
    public void reserve(long pfnLo, long pfnHi) {
      allocator.reserve(pfnLo, pfnHi);
    }

    @Override
    public AllocatorStats stats() {
      return allocator.stats();
    }

    @Override
    public FragmentationSample fragmentation(long limitPfn) {
      return allocator.fragmentation(limitPfn);
    }

    @Override
    public void save(SnapshotOutput out) {
      allocator.save(out);
    }
  }

  IommuEvent lastFailedAlloc;

  // ---- map ----

  MapResult lastMap;

  /** PGTABLE_FREE IMMEDIATE events of the last map (a superpage replacing a table). */
  final List<IommuEvent> lastImmediateFrees = new ArrayList<>();

  /** PGTABLE_ALLOC events of the last map. */
  final List<IommuEvent> lastTableAllocs = new ArrayList<>();

  /**
   * iommu_map() of {@code [iova, iova + size)} to {@code paddr} on {@code cpu}; returns the MAP
   * event. The call runs over [MAP.tsNs − durationNs, MAP.tsNs].
   */
  IommuEvent map(long iova, long paddr, long size, int prot, int cpu) {
    long start = h.tick(100, 400);
    installed.clear();
    freedNow.clear();
    lastImmediateFrees.clear();
    lastTableAllocs.clear();
    lastMap = pt.map(iova, paddr, size, prot, cpu);
    for (TablePage t : installed) {
      h.tick(50, 200);
      lastTableAllocs.add(emitTableAlloc(t, cpu));
    }
    if (!freedNow.isEmpty()) {
      for (TablePage t : freedNow) {
        h.tick(50, 200);
        lastImmediateFrees.add(emitTableFree(t, cpu, TableFreeMode.IMMEDIATE));
      }
      // switch_to_super_page(): the freed tables' range is flushed after they are freed.
      h.tick(100, 300);
      IotlbInvalidation inv =
          h.psi.pageSelective(iova >>> GRANULE_SHIFT, (iova + size - 1) >>> GRANULE_SHIFT, false);
      inv.setTrigger(FlushTrigger.EXPLICIT);
      emitFlush(inv, cpu);
    }
    if (mapHook != null) {
      Runnable hook = mapHook;
      mapHook = null;
      hook.run();
    }
    h.tick(100, 300 + Math.min(size >>> 12, 2_000));
    return h.emit(
        EventType.MAP,
        cpu,
        this,
        device,
        Attribution.TRACE,
        new Mapping(iova, size, paddr, prot, duration(h.now - start)));
  }

  /** Run inside the next map, after its table installs and before its MAP event. */
  Runnable mapHook;

  /** Duration the next map or unmap reports instead of its own, or -1. */
  long forcedDurationNs = -1;

  /** Start time the next map or unmap reports (its duration reaches back to it), or -1. */
  long forcedStartNs = -1;

  private long duration(long measured) {
    long d =
        forcedStartNs >= 0
            ? h.now - forcedStartNs
            : forcedDurationNs >= 0 ? forcedDurationNs : measured;
    forcedDurationNs = -1;
    forcedStartNs = -1;
    return d;
  }

  /** Next fresh 1 GiB-aligned IOVA region for injections in an UNMANAGED domain (from 1 TiB). */
  private long nextRegion = 1L << 40;

  long freshRegion() {
    long r = nextRegion;
    nextRegion += 1L << 30;
    return r;
  }

  // ---- unmap ----

  /** Tables the last unmap unlinked (to be freed after its flush). */
  final List<TablePage> lastUnmapTables = new ArrayList<>();

  UnmapResult lastUnmap;

  /** iommu_unmap_fast() of the range on {@code cpu}: the UNMAP event (CPU_CONTEXT attribution). */
  IommuEvent unmap(long iova, long size, int cpu) {
    long start = h.tick(100, 400);
    freedNow.clear();
    lastUnmap = pt.unmap(iova, size, cpu);
    lastUnmapTables.clear();
    lastUnmapTables.addAll(lastUnmap.freedTables());
    h.tick(100, 300 + Math.min(size >>> 12, 2_000));
    return h.emit(
        EventType.UNMAP,
        cpu,
        this,
        device,
        Attribution.CPU_CONTEXT,
        new Unmapping(iova, size, lastUnmap.unmappedSize(), duration(h.now - start)));
  }

  /** The page-selective flush a strict unmap of the range issues (trigger SYNC). */
  IommuEvent strictFlush(long iova, long size, boolean tablesFreed, int cpu) {
    h.tick(100, 400);
    return emitFlush(h.psi.strictUnmap(iova, size, tablesFreed), cpu);
  }

  IommuEvent emitFlush(IotlbInvalidation inv, int cpu) {
    inv.setIommu("dmar0");
    inv.setHwDomainId((int) id);
    return h.emit(EventType.IOTLB_FLUSH, cpu, this, device, Attribution.TRACE, inv);
  }

  /** The freed table pages go back now (strict: after the sync). */
  List<IommuEvent> freeTables(List<TablePage> tables, int cpu, TableFreeMode mode) {
    List<IommuEvent> events = new ArrayList<>(tables.size());
    for (TablePage t : tables) {
      h.tick(50, 200);
      events.add(emitTableFree(t, cpu, mode));
    }
    return events;
  }

  /**
   * queue_iova() of an unmapped range on {@code cpu}: FQ_ENQUEUE, then the predicting flush queue's
   * reaps and full-ring flush. The caller must have fired due timers just before the UNMAP.
   *
   * @param tables table pages to free with the entry (empty for none)
   * @param freeIova whether the entry's release frees the IOVA (false: it leaks)
   * @param onRelease run when the entry is released, or null
   */
  IommuEvent enqueue(
      long iova,
      long size,
      long pfn,
      long pages,
      List<TablePage> tables,
      int cpu,
      boolean freeIova,
      Runnable onRelease,
      IommuEvent unmapEvent) {
    h.tick(50, 200);
    IommuEvent e =
        h.emit(
            EventType.FQ_ENQUEUE,
            cpu,
            this,
            device,
            Attribution.TRACE,
            new FlushQueueOp(iova, size, (long) cpu, null, FlushTrigger.UNKNOWN));
    openWindows.add(iova, size, unmapEvent.getSeq(), unmapEvent.getTsNs());
    long freelist = FlushQueue.NO_TABLE_PAGES;
    if (!tables.isEmpty() || !freeIova || onRelease != null) {
      freelist = nextEntryId++;
      entryMeta.put(freelist, new EntryMeta(List.copyOf(tables), freeIova, onRelease));
    }
    boolean armed = fq.timerArmedAtNs() != FlushQueue.NOT_ARMED;
    if (armed && fq.timerArmedAtNs() + fq.params().timeoutNs() <= h.now) {
      throw new IllegalStateException("flush-queue timer due inside an enqueue: " + this);
    }
    cbCpu = cpu;
    fq.enqueue(e.getSeq(), h.now, cpu, pfn, pages, freelist);
    if (!armed && fq.timerArmedAtNs() != FlushQueue.NOT_ARMED) timerCpu = cpu;
    return e;
  }

  /** Due time of the armed flush-queue timer, or Long.MAX_VALUE. */
  long timerDueNs() {
    if (fq == null || timerSuppressed) return Long.MAX_VALUE;
    long armed = fq.timerArmedAtNs();
    return armed == FlushQueue.NOT_ARMED ? Long.MAX_VALUE : armed + fq.params().timeoutNs();
  }

  /** fq_flush_timeout() on the CPU that armed the timer. */
  void fireTimer(long dueNs) {
    cbCpu = timerCpu;
    fq.advanceTo(Math.max(dueNs, fq.timerArmedAtNs() + fq.params().timeoutNs()));
  }

  // ---- whole buffers ----

  /**
   * A new DMA-API buffer on {@code cpu}: an IOVA for all pieces, one map per piece. Null if the
   * allocation failed.
   */
  Buffer newBuffer(int cpu, int prot, int... pieceLog2) {
    long[] pieces = new long[pieceLog2.length];
    byte[] log2 = new byte[pieceLog2.length];
    long bytes = 0;
    for (int i = 0; i < pieceLog2.length; i++) {
      log2[i] = (byte) pieceLog2[i];
      bytes += Math.max(4096, 1L << pieceLog2[i]);
    }
    long pages = bytes >>> GRANULE_SHIFT;
    long pfn = allocIova(pages, cpu);
    if (pfn == IovaAllocator.FAILED) return null;
    for (int i = 0; i < pieces.length; i++) pieces[i] = pool.take(pieceLog2[i]);
    Buffer b = new Buffer(pfn << GRANULE_SHIFT, pfn, pages, bytes, pieces, log2);
    mapPieces(b, cpu, prot);
    return b;
  }

  /** Maps a buffer's pieces at consecutive IOVAs from its start, one map call each. */
  void mapPieces(Buffer b, int cpu, int prot) {
    long at = b.iova;
    for (int i = 0; i < b.pieces.length; i++) {
      long size = Math.max(4096, 1L << b.log2[i]);
      IommuEvent e = map(at, b.pieces[i] & -4096L, size, prot, cpu);
      if (i == 0) b.mapEvent = e;
      at += size;
    }
    b.mapCpu = cpu;
  }

  /**
   * The driver is done with {@code b}: dma_unmap on {@code cpu} (strict or lazy as the domain is),
   * the IOVA freed (now or when its queue entry is released) and the pieces back to the pool.
   * Returns the UNMAP event.
   */
  IommuEvent release(Buffer b, int cpu) {
    return release(b, cpu, true, true, null);
  }

  /**
   * {@link #release(Buffer, int)} with its parts chosen.
   *
   * @param freeIova whether the IOVA is freed (false: it leaks)
   * @param recycle whether the pieces go back to the pool (false: they leak)
   * @param onRelease run once the IOVA is released (strict: at once), or null
   */
  IommuEvent release(Buffer b, int cpu, boolean freeIova, boolean recycle, Runnable onRelease) {
    if (lazy) beforeLazyUnmap();
    IommuEvent unmap = unmap(b.iova, b.bytes, cpu);
    if (lazy) {
      enqueue(b.iova, b.bytes, b.pfn, b.pages, lastUnmapTables, cpu, freeIova, onRelease, unmap);
    } else {
      strictFlush(b.iova, b.bytes, !lastUnmapTables.isEmpty(), cpu);
      freeTables(List.copyOf(lastUnmapTables), cpu, TableFreeMode.AFTER_FLUSH);
      if (freeIova && b.pfn >= 0) freeIova(b.pfn, b.pages, cpu);
      if (onRelease != null) onRelease.run();
    }
    if (recycle) recycle(b);
    return unmap;
  }

  /**
   * Before a lazy unmap: fire the timers due within the next 10 µs, so that none comes due between
   * the UNMAP and its FQ_ENQUEUE (a timer firing inside the enqueue would flush before the entry is
   * appended, where the trace shows the flush after the FQ_ENQUEUE). Nothing else may be emitted on
   * the CPU between the two: the model takes any event there as a missed FQ_ENQUEUE.
   */
  void beforeLazyUnmap() {
    h.fireDueTimers(h.now, 10_000);
  }

  /**
   * The buffer's pieces go back to the pool (lazy without recycling in the window: at the flush).
   */
  void recycle(Buffer b) {
    if (lazy && !h.opt.recycleInWindow()) {
      heldUntilFlush.add(b);
      return;
    }
    for (int i = 0; i < b.pieces.length; i++) pool.give(b.pieces[i], b.log2[i]);
  }

  // ---- flush-queue callbacks ----

  @Override
  public void flush(FlushReason reason) {
    FlushTrigger trigger =
        reason == FlushReason.TIMER ? FlushTrigger.FQ_TIMER : FlushTrigger.FQ_FULL;
    h.tick(200, 1_000);
    h.emit(
        EventType.FQ_FLUSH,
        cbCpu,
        this,
        device,
        Attribution.TRACE,
        new FlushQueueOp(null, null, (long) cbCpu, null, trigger));
    h.tick(200, 1_000);
    lastFlushEvent =
        emitFlush(
            new IotlbInvalidation(
                FlushScope.DOMAIN, 0L, 0L, -1, false, null, null, null, null, trigger, List.of()),
            cbCpu);
    flushCount++;
    openWindows.clear();
    for (Buffer b : heldUntilFlush) {
      for (int i = 0; i < b.pieces.length; i++) pool.give(b.pieces[i], b.log2[i]);
    }
    heldUntilFlush.clear();
  }

  @Override
  public void tablePagesReleased(long freelist) {
    current = entryMeta.remove(freelist);
    if (current != null) freeTables(current.tables, cbCpu, TableFreeMode.AFTER_FLUSH);
  }

  @Override
  public void iovaReleased(long pfn, long pages) {
    EntryMeta meta = current;
    current = null;
    if (meta == null || meta.freeIova) freeIova(pfn, pages, cbCpu);
    if (meta != null && meta.onRelease != null) meta.onRelease.run();
  }

  // ---- table pages ----

  @Override
  public void tableInstalled(TablePage table) {
    tableAddress.put(table, h == null ? 0L : h.tablePages.take(12));
    if (table.isRoot()) {
      root = table;
    } else {
      installed.add(table);
    }
    if (table.level() == 1) level1Spans.add(table.spanStart());
  }

  @Override
  public void tableFreed(TablePage table, int cpu, TableFreeTiming timing) {
    if (table.level() == 1) level1Spans.remove(table.spanStart());
    if (timing == TableFreeTiming.IMMEDIATE) freedNow.add(table);
  }

  private IommuEvent emitTableAlloc(TablePage t, int cpu) {
    return h.emit(
        EventType.PGTABLE_ALLOC,
        cpu,
        this,
        device,
        Attribution.TRACE,
        new io.iommureplay.schema.TablePage(
            t.level(), t.spanStart(), spanBytes(t), tableAddress.get(t), TableFreeMode.IMMEDIATE));
  }

  private IommuEvent emitTableFree(TablePage t, int cpu, TableFreeMode mode) {
    Long address = tableAddress.remove(t);
    IommuEvent e =
        h.emit(
            EventType.PGTABLE_FREE,
            cpu,
            this,
            device,
            Attribution.TRACE,
            new io.iommureplay.schema.TablePage(
                t.level(), t.spanStart(), spanBytes(t), address, mode));
    h.tablePages.give(address, 12);
    return e;
  }

  /** A table page's PGTABLE_ALLOC/FREE payload for a page the page table never held (a loser). */
  IommuEvent emitLoserTable(
      EventType type, int level, long spanStart, long spanBytes, long address, int cpu) {
    return h.emit(
        type,
        cpu,
        this,
        device,
        Attribution.TRACE,
        new io.iommureplay.schema.TablePage(
            level, spanStart, spanBytes, address, TableFreeMode.IMMEDIATE));
  }

  static long spanBytes(TablePage t) {
    return 1L << t.spanShift();
  }

  /** Unmaps since the last domain-wide flush of a lazy domain. */
  static final class OpenWindows {
    long[] iova = new long[64];
    long[] size = new long[64];
    long[] seq = new long[64];
    long[] ts = new long[64];
    int n;

    void add(long i, long s, long q, long t) {
      if (n == iova.length) {
        iova = java.util.Arrays.copyOf(iova, n * 2);
        size = java.util.Arrays.copyOf(size, n * 2);
        seq = java.util.Arrays.copyOf(seq, n * 2);
        ts = java.util.Arrays.copyOf(ts, n * 2);
      }
      iova[n] = i;
      size[n] = s;
      seq[n] = q;
      ts[n] = t;
      n++;
    }

    void clear() {
      n = 0;
    }
  }

  @Override
  public String toString() {
    return "domain " + id + " (" + device + ", " + type + ")";
  }
}
