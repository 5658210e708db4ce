package io.iommureplay.model;

import io.iommureplay.model.flushqueue.FlushQueueParams;
import io.iommureplay.model.flushqueue.FlushQueueParams.Layout;
import io.iommureplay.model.iotlb.IotlbConfig;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceAccess;
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
import io.iommureplay.schema.PasidOp;
import io.iommureplay.schema.ReservedRegion;
import io.iommureplay.schema.ReservedRegionKind;
import io.iommureplay.schema.Unmapping;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small hand-built replay that leaves something in every part of the model's state: a lazy domain
 * (two devices, entries in its per-CPU flush queue, a table page held by a queued entry, open
 * windows), a strict one (an open window, a table page awaiting the sync, an unmap whose kprobes
 * were missed), an emptied domain, reserved regions, the IOVA allocators after agreements and
 * adoptions, orphan unmaps, PASIDs in every state, an unmap still waiting for its enqueue.
 *
 * <p>The snapshot fixtures in src/test/resources/snapshots were made from it: never change it, or
 * they no longer describe it. Deterministic: the events come from fixed arithmetic, not from the
 * model.
 */
final class SnapshotScenario {
  static final ModelConfig CONFIG =
      ModelConfig.defaults()
          .withPageTableFormat(PageTableFormat.vtdSecondStage(3, 2))
          .withIotlb(new IotlbConfig(IotlbConfig.Mode.OBSERVED, 64))
          .withFlushQueue(new FlushQueueParams(Layout.PER_CPU, 16, 10_000_000L), 2);

  static final long LAZY = 1;
  static final long STRICT = 2;
  static final long EMPTIED = 3;
  static final String NIC = "0000:00:04.0";
  static final String DISK = "0000:00:05.0";
  static final String GPU = "0000:00:06.0";

  private static final long PAGE = 4096;
  private static final long MIB2 = 2 << 20;
  private static final long LIMIT_32 = 0xfffff;
  private static final long MS = 1_000_000;

  private final List<IommuEvent> events = new ArrayList<>();
  private long ts = 1_000 * MS;
  private long kernelNextPfn = LIMIT_32 + 1; // the "kernel" allocates top-down, size-aligned
  private final List<long[]> queued = new ArrayList<>(); // {pfn, pages} queued since a flush

  private SnapshotScenario() {}

  static List<IommuEvent> events() {
    SnapshotScenario s = new SnapshotScenario();
    s.setUp();
    s.pasids();
    s.lazyTraffic();
    s.strictTraffic();
    s.ending();
    return s.events;
  }

  /** A model that has replayed the whole scenario (not finished: the orphans are still kept). */
  static IommuModel replay(ModelListener listener) {
    IommuModel model = new IommuModel(CONFIG, listener);
    events().forEach(model::apply);
    return model;
  }

  private void setUp() {
    // Before any hardware invalidation is traced, the driver's requests stand in for them.
    add(EventType.IOTLB_FLUSH_REQUEST, 0, -1, null, inv(FlushScope.GLOBAL, FlushTrigger.EXPLICIT));
    for (long d : new long[] {LAZY, STRICT}) {
      String device = d == LAZY ? NIC : DISK;
      add(EventType.DOMAIN_ALLOC, 0, d, null, lifecycle(DomainType.DMA));
      add(EventType.ATTACH, 0, d, device, null);
      add(
          EventType.IOVA_DOMAIN_INIT,
          0,
          d,
          device,
          IovaDomainInit.newBuilder().setGranule(PAGE).setStartPfn(1).build());
      add(EventType.IOVA_RESERVE, 0, d, null, new IovaRange(0xfee00L, 0xfeeffL));
      add(
          EventType.RESERVED_REGION,
          0,
          -1,
          device,
          new ReservedRegion(ReservedRegionKind.MSI, 0xfee00000L, 0x100000L));
    }
    add(
        EventType.RESERVED_REGION,
        0,
        -1,
        DISK,
        new ReservedRegion(ReservedRegionKind.DIRECT, 0L, 16L << 20));
    map(0, STRICT, DISK, 0x100000, 0x100000, 4 * PAGE); // the direct mapping, 1:1
    map(0, STRICT, DISK, 0xfee01000L, 0x7000000, PAGE); // into the MSI region: forbidden
    // The GPU starts in an identity domain, leaves it and joins the lazy one, which it then shares.
    add(EventType.DOMAIN_ALLOC, 0, EMPTIED, null, lifecycle(DomainType.IDENTITY));
    add(EventType.ATTACH, 0, EMPTIED, GPU, null);
    map(0, EMPTIED, GPU, 0x200000, 0x200000, MIB2);
    add(EventType.DETACH, 0, EMPTIED, GPU, null);
    add(EventType.ATTACH, 1, LAZY, GPU, null);
  }

  private void pasids() {
    add(EventType.SVA_BIND, 0, -1, GPU, new PasidOp(0, 100L)); // allocates PASID 1
    add(EventType.SVA_BIND, 0, -1, NIC, new PasidOp(0, 100L));
    add(EventType.SVA_BIND, 1, -1, GPU, new PasidOp(7, 200L)); // the trace's own PASID
    add(EventType.SVA_UNBIND, 0, -1, NIC, new PasidOp(1, 100L));
    add(EventType.DEVICE_ACCESS, 0, LAZY, NIC, new DeviceAccess(0L, PAGE, false, 1)); // misuse
    add(EventType.MM_EXIT, 1, -1, null, new PasidOp(7, 200L));
    add(EventType.SVA_BIND, 0, -1, DISK, new PasidOp(0, 300L)); // PASID 2
    add(EventType.PASID_FREE, 1, -1, null, new PasidOp(7, 200L));
  }

  /**
   * Unmaps on two CPUs into a flush queue of 16-entry rings: timer flushes, a ring that fills,
   * missed enqueues, a 2 MiB unmap that frees a table page, mappings left live for the orphans.
   */
  private void lazyTraffic() {
    List<Long> kept = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      int cpu = i % 2;
      long pages = 1L << (i % 3);
      long pfn = kernelAlloc(cpu, LAZY, pages);
      long iova = pfn * PAGE;
      map(cpu, LAZY, NIC, iova, 0x80000000L + i * 0x10000L, pages * PAGE);
      add(
          EventType.DEVICE_ACCESS,
          cpu,
          LAZY,
          NIC,
          new DeviceAccess(iova, pages * PAGE, true, null));
      if (i % 4 == 3) {
        kept.add(iova);
        continue;
      }
      unmapLazy(cpu, pfn, pages, i % 7 != 5);
      if (i % 5 == 0) access(cpu, LAZY, NIC, iova); // used again before the flush: stale
      // At 29 the trace does not show why the queue flushed: the model guesses from the CPU's
      // last event.
      if (i % 10 == 9) timerFlush(cpu, i == 29 ? FlushTrigger.UNKNOWN : FlushTrigger.FQ_TIMER);
      if (i == 20) {
        map(cpu, LAZY, GPU, 0x40000000L, 0x90001000L, MIB2); // 4 KiB pages: a level-1 table
        add(EventType.UNMAP, cpu, LAZY, GPU, new Unmapping(0x40000000L, MIB2, MIB2, null));
        enqueue(cpu, 0x40000000L, MIB2);
      }
    }
    // From empty rings, a burst on CPU 0 fills its ring: queueing the 16th entry flushes first.
    timerFlush(1, FlushTrigger.FQ_TIMER);
    for (int i = 0; i < 17; i++) {
      long pfn = kernelAlloc(0, LAZY, 1);
      map(0, LAZY, NIC, pfn * PAGE, 0xa0000000L + i * PAGE, PAGE);
      access(0, LAZY, NIC, pfn * PAGE);
      add(EventType.UNMAP, 0, LAZY, NIC, new Unmapping(pfn * PAGE, PAGE, PAGE, null));
      if (i == 15) {
        add(EventType.FQ_FLUSH, 0, LAZY, null, fqOp(FlushTrigger.FQ_FULL));
        add(EventType.IOTLB_FLUSH, 0, LAZY, null, inv(FlushScope.DOMAIN, FlushTrigger.FQ_FULL));
      }
      enqueue(0, pfn * PAGE, PAGE);
      queued.add(new long[] {pfn, 1});
    }
    // Unmaps the importer could not attribute: the first is adopted when its IOVA is mapped again.
    for (int k = 0; k < 3; k++) {
      Unmapping unmap = new Unmapping(kept.get(k), PAGE, PAGE, null);
      event(EventType.UNMAP, 1, -1, null, Attribution.MISSING, unmap);
    }
    map(1, LAZY, NIC, kept.get(0), 0xb0000000L, PAGE);
    // The 2 MiB table of the next unmap stays held by its queued entry.
    map(1, LAZY, GPU, 0x40000000L, 0x90001000L, MIB2);
    add(EventType.UNMAP, 1, LAZY, GPU, new Unmapping(0x40000000L, MIB2, MIB2, null));
    enqueue(1, 0x40000000L, MIB2);
  }

  /**
   * Strict unmaps, each followed by its page-selective sync and its IOVA free; some lose their
   * kprobes (the free is inferred); a superpage map frees an emptied table at once.
   */
  private void strictTraffic() {
    for (int i = 0; i < 40; i++) {
      int cpu = i % 2;
      long pages = 1L << (i % 2);
      long pfn = kernelAlloc(cpu, STRICT, pages);
      long iova = pfn * PAGE;
      map(cpu, STRICT, DISK, iova, 0x100000000L + i * 0x8000L, pages * PAGE);
      add(EventType.DEVICE_ACCESS, cpu, STRICT, DISK, new DeviceAccess(iova, PAGE, true, null));
      Unmapping unmap = new Unmapping(iova, pages * PAGE, pages * PAGE, null);
      boolean missed = i % 9 == 8;
      event(
          EventType.UNMAP,
          cpu,
          STRICT,
          missed ? null : DISK,
          missed ? Attribution.INFERRED : Attribution.CPU_CONTEXT,
          unmap);
      add(EventType.IOTLB_FLUSH, cpu, STRICT, null, pageInv(pfn, pages));
      if (!missed)
        add(EventType.IOVA_FREE, cpu, STRICT, DISK, new IovaFree(IovaPath.FAST, pfn, pages));
    }
    // An emptied level-1 table (two half unmaps) replaced by a 2 MiB superpage: freed unflushed.
    long base = 0x60000000L;
    map(0, STRICT, DISK, base, 0x120001000L, MIB2);
    for (long half = 0; half < MIB2; half += MIB2 / 2) {
      add(EventType.UNMAP, 0, STRICT, DISK, new Unmapping(base + half, MIB2 / 2, MIB2 / 2, null));
      add(EventType.IOTLB_FLUSH, 0, STRICT, null, pageInv((base + half) / PAGE, 256));
    }
    map(0, STRICT, DISK, base, 0x140000000L, MIB2);
    // A guess of the importer that does not fit the domain: kept as an orphan.
    event(
        EventType.UNMAP,
        1,
        STRICT,
        null,
        Attribution.INFERRED,
        new Unmapping(0x70000000L, PAGE, PAGE, null));
    // free_iova() and remove_iova() seen alone (free_iova_fast()'s hit missed).
    long freed = kernelAlloc(1, STRICT, 1);
    add(EventType.IOVA_FREE, 1, STRICT, null, new IovaFree(IovaPath.RBTREE, freed, null));
    long removed = kernelAlloc(1, STRICT, 1);
    add(EventType.IOVA_REMOVE, 1, STRICT, null, new IovaRange(removed, removed));
  }

  /** Leaves a strict table awaiting its sync, open windows and an unmap awaiting its enqueue. */
  private void ending() {
    map(0, STRICT, DISK, 0x50000000L, 0x150001000L, MIB2);
    access(0, STRICT, DISK, 0x50000000L);
    add(EventType.UNMAP, 0, STRICT, DISK, new Unmapping(0x50000000L, MIB2, MIB2, null));
    add(EventType.MAP, 0, STRICT, DISK, new Mapping(0x58000000L, PAGE, 0x160000000L, 3, null));
    long pfn = kernelAlloc(1, LAZY, 1);
    map(1, LAZY, NIC, pfn * PAGE, 0xc0000000L, PAGE);
    access(1, LAZY, NIC, pfn * PAGE);
    add(EventType.UNMAP, 1, LAZY, NIC, new Unmapping(pfn * PAGE, PAGE, PAGE, null));
  }

  private void unmapLazy(int cpu, long pfn, long pages, boolean enqueueTraced) {
    add(
        EventType.UNMAP,
        cpu,
        LAZY,
        NIC,
        new Unmapping(pfn * PAGE, pages * PAGE, pages * PAGE, null));
    if (enqueueTraced) enqueue(cpu, pfn * PAGE, pages * PAGE);
    queued.add(new long[] {pfn, pages});
  }

  /** The kernel's timer flush of the lazy domain, then its frees of what the flush released. */
  private void timerFlush(int cpu, FlushTrigger trigger) {
    ts += 12 * MS;
    add(EventType.FQ_FLUSH, cpu, LAZY, null, fqOp(trigger));
    add(EventType.IOTLB_FLUSH, cpu, LAZY, null, inv(FlushScope.DOMAIN, trigger));
    for (long[] q : queued) {
      add(EventType.IOVA_FREE, cpu, LAZY, null, new IovaFree(IovaPath.FAST, q[0], q[1]));
    }
    queued.clear();
  }

  private long kernelAlloc(int cpu, long domain, long pages) {
    kernelNextPfn = (kernelNextPfn - pages) & -pages;
    add(
        EventType.IOVA_ALLOC,
        cpu,
        domain,
        null,
        IovaAllocation.newBuilder()
            .setPath(IovaPath.FAST)
            .setPages(pages)
            .setLimitPfn(LIMIT_32)
            .setPfn(kernelNextPfn)
            .build());
    return kernelNextPfn;
  }

  private void map(int cpu, long domain, String device, long iova, long paddr, long size) {
    add(EventType.MAP, cpu, domain, device, new Mapping(iova, size, paddr, 3, null));
  }

  private void access(int cpu, long domain, String device, long iova) {
    add(EventType.DEVICE_ACCESS, cpu, domain, device, new DeviceAccess(iova, PAGE, false, null));
  }

  private void enqueue(int cpu, long iova, long size) {
    FlushQueueOp op = FlushQueueOp.newBuilder().setIova(iova).setSize(size).build();
    add(EventType.FQ_ENQUEUE, cpu, LAZY, null, op);
  }

  private static FlushQueueOp fqOp(FlushTrigger trigger) {
    return FlushQueueOp.newBuilder().setTrigger(trigger).build();
  }

  private static DomainLifecycle lifecycle(DomainType type) {
    return DomainLifecycle.newBuilder().setDomainType(type).build();
  }

  private static IotlbInvalidation inv(FlushScope scope, FlushTrigger trigger) {
    return IotlbInvalidation.newBuilder().setScope(scope).setTrigger(trigger).build();
  }

  /** A page-selective sync of {@code pages} (a power of two) at {@code pfn}: VT-d AM = log2. */
  private static IotlbInvalidation pageInv(long pfn, long pages) {
    return IotlbInvalidation.newBuilder()
        .setScope(FlushScope.PAGE)
        .setIova(pfn * PAGE)
        .setSize(pages * PAGE)
        .setAddressMask(Long.numberOfTrailingZeros(pages))
        .setTrigger(FlushTrigger.SYNC)
        .build();
  }

  private void add(EventType type, int cpu, long domain, String device, Object payload) {
    event(type, cpu, domain, device, Attribution.TRACE, payload);
  }

  private void event(
      EventType type,
      int cpu,
      long domain,
      String device,
      Attribution attribution,
      Object payload) {
    ts += 20_000;
    events.add(
        IommuEvent.newBuilder()
            .setHost("scenario")
            .setSeq(events.size() + 1)
            .setTsNs(ts)
            .setCpu(cpu)
            .setType(type)
            .setSource(type.name().toLowerCase(Locale.ROOT))
            .setDomain(domain)
            .setDevice(device)
            .setAttribution(attribution)
            .setPayload(payload)
            .build());
  }
}
