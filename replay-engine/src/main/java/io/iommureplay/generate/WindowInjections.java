package io.iommureplay.generate;

import static io.iommureplay.generate.RaceInjections.RW;

import io.iommureplay.model.iova.IovaAllocator;
import io.iommureplay.model.pagetable.TablePage;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.ReservedRegion;
import io.iommureplay.schema.ReservedRegionKind;
import io.iommureplay.schema.TableFreeMode;
import java.util.ArrayList;
import java.util.List;

/** Injected use-after-unmap bugs: SPEC "Use-after-unmap windows under lazy flushing". */
final class WindowInjections {
  private WindowInjections() {}

  /**
   * Unmaps {@code x} on {@code cpu} as the domain does, without recycling its pages: lazy — UNMAP
   * and FQ_ENQUEUE (the IOVA freed with the entry unless {@code freeIova} is false); strict — only
   * the UNMAP (the caller issues the flush). Returns the UNMAP, or null when a full-ring flush
   * inside the enqueue closed the window at once (the caller tries again later).
   */
  static IommuEvent unmapOpen(GenDomain d, Buffer x, int cpu, boolean freeIova) {
    if (!d.lazy) return d.unmap(x.iova, x.bytes, cpu);
    d.beforeLazyUnmap();
    long flushes = d.flushCount;
    IommuEvent unmap = d.unmap(x.iova, x.bytes, cpu);
    d.enqueue(x.iova, x.bytes, x.pfn, x.pages, d.lastUnmapTables, cpu, freeIova, null, unmap);
    return d.flushCount == flushes ? unmap : null;
  }

  /** The rest of a strict unmap whose UNMAP was emitted: flush, tables, IOVA (if freed). */
  static IommuEvent finishStrict(
      GenDomain d, Buffer x, int cpu, List<TablePage> tables, boolean freeIova) {
    IommuEvent flush = d.strictFlush(x.iova, x.bytes, !tables.isEmpty(), cpu);
    d.freeTables(tables, cpu, TableFreeMode.AFTER_FLUSH);
    if (freeIova) d.freeIova(x.pfn, x.pages, cpu);
    return flush;
  }

  /**
   * DEVICE_ACCESS_AFTER_UNMAP: the device reads or writes a buffer after the driver unmapped it,
   * inside its window: lazy — 1–30 µs after the unmap, before the flush queue flushes; strict —
   * between the UNMAP and its flush.
   */
  static final class AccessAfterUnmap extends Injection {
    Buffer x;
    int cpu;

    AccessAfterUnmap(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.DEVICE_ACCESS_AFTER_UNMAP, 0, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      if (phase == 0) {
        cpu = h.randomCpu();
        x = page(d, cpu);
        phase = 1;
        return in(10_000, 300_000);
      }
      IommuEvent unmap = unmapOpen(d, x, cpu, true);
      List<TablePage> tables = List.copyOf(d.lastUnmapTables);
      if (unmap == null) { // flushed already: try again with a new buffer
        d.recycle(x);
        phase = 0;
        return in(1_000_000, 3_000_000);
      }
      if (d.lazy) h.tick(1_000, 30_000);
      long off = h.rnd.nextLong(32) << 6;
      long len = 64 + h.rnd.nextLong(4096 - off - 64);
      IommuEvent access = Actors.access(h, d, x.iova + off, len, h.rnd.nextBoolean());
      if (!d.lazy) finishStrict(d, x, cpu, tables, true);
      d.recycle(x);
      label(d, x.iova + off, x.iova + off + len, List.of(unmap, access), null);
      return DONE;
    }
  }

  /**
   * PHYS_REUSE_IN_WINDOW: the page of a just-unmapped buffer of domain A is mapped again for a new
   * buffer inside A's window — by another device's domain ("cross-device"; the page then leaks, so
   * nothing else reuses it) or by A itself on another CPU ("same-domain"). Strict: between A's
   * UNMAP and its flush.
   */
  static final class PhysReuse extends Injection {
    final GenDomain other;
    Buffer x;
    Buffer reused;
    int a;

    PhysReuse(HostGenerator h, int variant, GenDomain lane, GenDomain other, long startNs) {
      super(h, FindingType.PHYS_REUSE_IN_WINDOW, variant, lane, startNs);
      this.other = other;
    }

    @Override
    List<GenDomain> lanes() {
      return variant == 0 ? List.of(lane, other) : List.of(lane);
    }

    @Override
    long step() {
      GenDomain d = lane;
      GenDomain target = variant == 0 ? other : d;
      if (phase == 0) {
        if (target.paused) return in(1_000_000, 2_000_000);
        a = h.randomCpu();
        x = page(d, a);
        phase = 1;
        return in(10_000, 300_000);
      }
      if (phase == 2) {
        // The new buffer goes again; a page that changed domain is not reused.
        target.release(reused, reused.mapCpu, true, variant == 1, null);
        return DONE;
      }
      IommuEvent unmap = unmapOpen(d, x, a, true);
      List<TablePage> tables = List.copyOf(d.lastUnmapTables);
      if (unmap == null) {
        d.recycle(x);
        phase = 0;
        return in(1_000_000, 3_000_000);
      }
      long page = x.pieces[0];
      int b = h.otherCpu(a);
      h.tick(200, d.lazy ? 20_000 : 600);
      long pfn = target.allocIova(1, b);
      if (pfn == IovaAllocator.FAILED) throw new IllegalStateException("no IOVA");
      Buffer y = Buffer.single(pfn << 12, pfn, 1, page, 12);
      target.mapPieces(y, b, RW);
      Actors.access(h, target, y.iova, 512, true);
      if (!d.lazy) finishStrict(d, x, a, tables, true);
      label(
          d.id,
          d.device,
          x.iova,
          x.iova + 4096,
          List.of(unmap, y.mapEvent),
          variant == 0 ? "cross-device" : "same-domain",
          variant == 0 ? other : null,
          page,
          page + 4096,
          null);
      y.mapCpu = b;
      reused = y;
      phase = 2;
      return in(20_000, 500_000);
    }
  }

  /**
   * IOVA_REUSE_BEFORE_FLUSH: the IOVA of a just-unmapped buffer is mapped again (iommu_map, no
   * allocation) by the same CPU before its flush: lazy — 1–30 µs after the unmap, while the flush
   * queue holds it; strict — in an interrupt between the UNMAP and its sync. The new mapping stays
   * and the IOVA is never freed.
   */
  static final class IovaReuse extends Injection {
    Buffer x;
    int cpu;

    IovaReuse(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.IOVA_REUSE_BEFORE_FLUSH, 0, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      if (phase == 0) {
        cpu = h.randomCpu();
        x = h.rnd.nextInt(3) == 0 ? pages(d, cpu, 2) : page(d, cpu);
        phase = 1;
        return in(10_000, 300_000);
      }
      long fresh = d.pool.take(x.bytes == 4096 ? 12 : 13);
      IommuEvent unmap = unmapOpen(d, x, cpu, false);
      List<TablePage> tables = List.copyOf(d.lastUnmapTables);
      if (unmap == null) { // the IOVA leaks all the same; try again
        d.recycle(x);
        d.pool.give(fresh, x.bytes == 4096 ? 12 : 13);
        phase = 0;
        return in(1_000_000, 3_000_000);
      }
      h.tick(200, d.lazy ? 30_000 : 500);
      d.forcedDurationNs = 100 + h.rnd.nextLong(150);
      IommuEvent map = d.map(x.iova, fresh, x.bytes, RW, cpu);
      if (!d.lazy) finishStrict(d, x, cpu, tables, false);
      d.recycle(x);
      label(d, x.iova, x.iova + x.bytes, List.of(unmap, map), null);
      return DONE;
    }
  }

  /**
   * MISSING_FLUSH in a strict domain: an unmap that is never flushed (the sync skipped); the IOVA
   * and the page are never given back, so nothing else reuses them, and the trace goes on well past
   * the flush-queue timeout.
   */
  static final class MissingFlush extends Injection {
    Buffer x;
    int cpu;

    MissingFlush(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.MISSING_FLUSH, 0, lane, startNs);
    }

    @Override
    long step() {
      if (phase++ == 0) {
        cpu = h.randomCpu();
        x = h.rnd.nextBoolean() ? page(lane, cpu) : pages(lane, cpu, 1 << (1 + h.rnd.nextInt(3)));
        return in(10_000, 300_000);
      }
      IommuEvent unmap = lane.unmap(x.iova, x.bytes, cpu);
      label(lane, x.iova, x.iova + x.bytes, List.of(unmap), null);
      return DONE;
    }

    @Override
    long tailNs() {
      return 150_000_000L;
    }
  }

  /**
   * PARTIAL_FLUSH in a strict domain: the sync after an unmap of 2–16 pages flushes only the first
   * half (a page-selective descriptor of half the size); 1–3 ms later an explicit flush covers the
   * rest and the IOVA and pages go back.
   */
  static final class PartialFlush extends Injection {
    Buffer x;
    int cpu;
    List<TablePage> tables;

    PartialFlush(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.PARTIAL_FLUSH, 0, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      switch (phase++) {
        case 0 -> {
          cpu = h.randomCpu();
          x = pages(d, cpu, 1 << (1 + h.rnd.nextInt(4)));
          return in(10_000, 300_000);
        }
        case 1 -> {
          IommuEvent unmap = d.unmap(x.iova, x.bytes, cpu);
          tables = List.copyOf(d.lastUnmapTables);
          h.tick(100, 400);
          IommuEvent flush = d.emitFlush(h.psi.strictUnmap(x.iova, x.bytes / 2, false), cpu);
          label(d, x.iova, x.iova + x.bytes, List.of(unmap, flush), null);
          return in(1_000_000, 3_000_000);
        }
        default -> {
          long half = x.bytes / 2;
          IotlbInvalidation rest =
              h.psi.pageSelective(
                  (x.iova + half) >>> 12, (x.iova + x.bytes - 1) >>> 12, tables.isEmpty());
          rest.setTrigger(io.iommureplay.schema.FlushTrigger.EXPLICIT);
          h.tick(100, 400);
          d.emitFlush(rest, cpu);
          d.freeTables(tables, cpu, TableFreeMode.AFTER_FLUSH);
          d.freeIova(x.pfn, x.pages, cpu);
          d.recycle(x);
          return DONE;
        }
      }
    }
  }

  /**
   * DETACH_WITH_OPEN_WINDOWS: the device is detached from its domain while unmaps are unflushed,
   * then attached again (a driver rebind): lazy — the flush queue holds entries, the domain's
   * traffic stops for 1–3 ms; strict — between an UNMAP and its flush.
   */
  static final class DetachOpen extends Injection {
    Buffer x;
    int cpu;

    DetachOpen(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.DETACH_WITH_OPEN_WINDOWS, 0, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      if (!d.lazy) return strict();
      if (phase == 1) {
        h.tick(1_000, 5_000);
        h.emit(EventType.ATTACH, h.randomCpu(), d, d.device, Attribution.TRACE, d.binding());
        d.paused = false;
        return DONE;
      }
      d.paused = true;
      if (d.openWindows.n == 0) {
        cpu = h.randomCpu();
        Buffer b = page(d, cpu);
        d.release(b, cpu);
        if (d.openWindows.n == 0) {
          d.paused = false;
          return in(1_000_000, 2_000_000);
        }
      }
      h.tick(1_000, 10_000);
      IommuEvent detach =
          h.emit(EventType.DETACH, h.randomCpu(), d, d.device, Attribution.TRACE, d.binding());
      List<IommuEvent> evidence = new ArrayList<>();
      evidence.add(detach);
      GenDomain.OpenWindows w = d.openWindows;
      long lo = Long.MAX_VALUE;
      long hi = 0;
      for (int i = 0; i < w.n; i++) {
        lo = Math.min(lo, w.iova[i]);
        hi = Math.max(hi, w.iova[i] + w.size[i]);
      }
      List<Long> seqs = new ArrayList<>();
      seqs.add(detach.getSeq());
      for (int i = Math.max(0, w.n - 7); i < w.n; i++) seqs.add(w.seq[i]);
      labelSeqs(d, lo, hi, seqs, w.ts[Math.max(0, w.n - 7)], detach.getTsNs());
      phase = 1;
      return in(1_000_000, 3_000_000);
    }

    private long strict() {
      GenDomain d = lane;
      if (phase++ == 0) {
        cpu = h.randomCpu();
        x = page(d, cpu);
        return in(10_000, 300_000);
      }
      IommuEvent unmap = d.unmap(x.iova, x.bytes, cpu);
      List<TablePage> tables = List.copyOf(d.lastUnmapTables);
      h.tick(100, 300);
      IommuEvent detach =
          h.emit(EventType.DETACH, h.otherCpu(cpu), d, d.device, Attribution.TRACE, d.binding());
      finishStrict(d, x, cpu, tables, true);
      d.recycle(x);
      h.tick(5_000, 20_000);
      h.emit(EventType.ATTACH, detach.getCpu(), d, d.device, Attribution.TRACE, d.binding());
      label(d, x.iova, x.iova + x.bytes, List.of(unmap, detach), null);
      return DONE;
    }

    private void labelSeqs(GenDomain d, long lo, long hi, List<Long> seqs, long first, long last) {
      seqs.sort(null);
      h.label(
          new Label(
              type, h.host, d.id, d.device, lo, hi, first, last, seqs, null, null, null, null, null,
              null));
    }
  }

  /**
   * TABLE_FREE_BEFORE_FLUSH. "ih1" (strict): a 2 MiB allocation mapped with 4 KiB pages is unmapped
   * whole, which frees its level-1 table, but the sync flushes with IH=1 (leaf only), so the
   * paging-structure caches may still point at the table freed after it. "immediate-unmap": the
   * unmap's freed table goes back at once (PGTABLE_FREE IMMEDIATE) before any flush.
   * "superpage-map" (UNMANAGED): a 2 MiB superpage replaces an emptied table, which VT-d frees
   * before flushing.
   */
  static final class TableFreeEarly extends Injection {
    Buffer buf;
    int cpu;

    TableFreeEarly(HostGenerator h, int variant, GenDomain lane, long startNs) {
      super(h, FindingType.TABLE_FREE_BEFORE_FLUSH, variant, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      if (phase++ == 0) {
        cpu = h.randomCpu();
        long pfn = d.allocIova(512, cpu);
        if (pfn == IovaAllocator.FAILED) throw new IllegalStateException("no IOVA");
        buf =
            new Buffer(
                pfn << 12,
                pfn,
                512,
                2L << 20,
                new long[] {d.pool.take(20), d.pool.take(20)},
                new byte[] {20, 20});
        d.mapPieces(buf, cpu, RW);
        Actors.access(h, d, buf.iova + (h.rnd.nextLong(512) << 12), 4096, true);
        return in(20_000, 300_000);
      }
      if (d.lazy) d.beforeLazyUnmap();
      long flushes = d.flushCount;
      IommuEvent unmap = d.unmap(buf.iova, buf.bytes, cpu);
      List<TablePage> tables = List.copyOf(d.lastUnmapTables);
      if (tables.isEmpty()) throw new IllegalStateException("no table freed");
      List<IommuEvent> evidence = new ArrayList<>(List.of(unmap));
      if (variant == 0) {
        h.tick(100, 400);
        evidence.add(d.emitFlush(h.psi.strictUnmap(buf.iova, buf.bytes, false), cpu));
        evidence.addAll(d.freeTables(tables, cpu, TableFreeMode.AFTER_FLUSH));
        d.freeIova(buf.pfn, buf.pages, cpu);
      } else if (d.lazy) {
        // queue_iova() follows the unmap at once; the table goes back right after, long before
        // the flush queue flushes (unless the enqueue found the ring full and flushed).
        d.enqueue(buf.iova, buf.bytes, buf.pfn, buf.pages, List.of(), cpu, true, null, unmap);
        boolean early = d.flushCount == flushes;
        List<IommuEvent> frees =
            d.freeTables(tables, cpu, early ? TableFreeMode.IMMEDIATE : TableFreeMode.AFTER_FLUSH);
        d.recycle(buf);
        if (!early) { // flushed already: no bug this time, try again
          phase = 0;
          return in(1_000_000, 3_000_000);
        }
        evidence.addAll(frees);
      } else {
        evidence.addAll(d.freeTables(tables, cpu, TableFreeMode.IMMEDIATE));
        d.strictFlush(buf.iova, buf.bytes, true, cpu);
        d.freeIova(buf.pfn, buf.pages, cpu);
      }
      if (!d.lazy || variant == 0) d.recycle(buf);
      label(d, buf.iova, buf.iova + buf.bytes, evidence, variant == 0 ? "ih1" : "immediate-unmap");
      return DONE;
    }
  }

  /**
   * LONG_WINDOW: lazy — the domain's flush-queue timer fires 120–250 ms late (the device is idle
   * meanwhile), so every window of its batch stays open that long; strict — the unmapping thread is
   * preempted between the unmap and its sync for as long.
   */
  static final class LongWindow extends Injection {
    Buffer x;
    int cpu;
    IommuEvent unmap;

    LongWindow(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.LONG_WINDOW, 0, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      if (phase == 0) {
        cpu = h.randomCpu();
        x = page(d, cpu);
        phase = 1;
        return in(10_000, 200_000);
      }
      if (phase == 1) {
        if (d.lazy) {
          d.paused = true;
          d.release(x, cpu);
          if (d.openWindows.n == 0) { // a full ring flushed it: next time
            d.paused = false;
            phase = 0;
            return in(1_000_000, 2_000_000);
          }
          d.timerSuppressed = true;
        } else {
          d.paused = true; // nobody else's flush may cover it by rounding
          unmap = d.unmap(x.iova, x.bytes, cpu);
        }
        phase = 2;
        return in(120_000_000, 250_000_000);
      }
      if (d.lazy) {
        GenDomain.OpenWindows w = d.openWindows;
        long lo = Long.MAX_VALUE;
        long hi = 0;
        List<Long> seqs = new ArrayList<>();
        for (int i = 0; i < w.n; i++) {
          lo = Math.min(lo, w.iova[i]);
          hi = Math.max(hi, w.iova[i] + w.size[i]);
          if (i < 8) seqs.add(w.seq[i]);
        }
        long first = w.ts[0];
        d.timerSuppressed = false;
        long flushes = d.flushCount;
        h.fireDueTimers(h.now);
        if (d.flushCount == flushes) throw new IllegalStateException("timer did not fire");
        seqs.add(d.lastFlushEvent.getSeq());
        h.label(
            new Label(
                type,
                h.host,
                d.id,
                d.device,
                lo,
                hi,
                first,
                d.lastFlushEvent.getTsNs(),
                seqs,
                null,
                null,
                null,
                null,
                null,
                null));
        d.paused = false;
      } else {
        IommuEvent flush = finishStrict(d, x, cpu, List.copyOf(d.lastUnmapTables), true);
        d.recycle(x);
        d.paused = false;
        label(d, x.iova, x.iova + x.bytes, List.of(unmap, flush), null);
      }
      return DONE;
    }
  }

  /**
   * RESERVED_REGION_MAPPING: "msi-window" — iommu_map() of a page at an IOVA in the reserved MSI
   * window (0xfee00000–0xfeefffff) to a RAM page; "reserved-region" — the device reports a RESERVED
   * region (RESERVED_REGION, and dma-iommu reserves its IOVAs), and a page is then mapped into it.
   * The mappings stay.
   */
  static final class ReservedMapping extends Injection {
    ReservedMapping(HostGenerator h, int variant, GenDomain lane, long startNs) {
      super(h, FindingType.RESERVED_REGION_MAPPING, variant, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      int cpu = h.randomCpu();
      int slot = d.reservedSlot++;
      if (variant == 0) {
        long iova = GenDomain.MSI_START + ((long) (slot % 256) << 12);
        IommuEvent map = d.map(iova, d.pool.take(12), 4096, RW, cpu);
        label(d, iova, iova + 4096, List.of(map), "msi-window");
        return DONE;
      }
      long region = 0x100000L + ((long) slot << 16);
      if (d.pt.mappedBytes(region, 1 << 16) != 0) throw new IllegalStateException("in use");
      h.tick(1_000, 5_000);
      IommuEvent reported =
          h.emit(
              EventType.RESERVED_REGION,
              cpu,
              d,
              d.device,
              Attribution.TRACE,
              new ReservedRegion(ReservedRegionKind.RESERVED, region, 1L << 16));
      h.tick(100, 500);
      long lo = region >>> 12;
      long hi = (region + (1 << 16) - 1) >>> 12;
      h.emit(EventType.IOVA_RESERVE, cpu, d, d.device, Attribution.TRACE, new IovaRange(lo, hi));
      d.allocator.reserve(lo, hi);
      h.tick(2_000, 50_000);
      long iova = region + (h.rnd.nextLong(16) << 12);
      IommuEvent map = d.map(iova, d.pool.take(12), 4096, RW, cpu);
      label(d, iova, iova + 4096, List.of(reported, map), "reserved-region");
      return DONE;
    }
  }

  /**
   * PASID_USE_AFTER_EXIT: a process binds to the SVA device, the device works on its PASID, then
   * "after-mm-exit": the process exits (MM_EXIT) and the device still accesses the PASID before the
   * driver unbinds; "after-unbind": the driver unbinds and the device goes on.
   */
  static final class PasidAfterExit extends Injection {
    final Actors.Sva sva;
    long[] proc;

    PasidAfterExit(HostGenerator h, int variant, Actors.Sva sva, long startNs) {
      super(h, FindingType.PASID_USE_AFTER_EXIT, variant, null, startNs);
      this.sva = sva;
    }

    @Override
    long step() {
      if (phase == 0) {
        if (sva.busy != null) return in(1_000_000, 2_000_000);
        sva.busy = this;
        proc = sva.bind();
        sva.accessPasid(proc);
        sva.accessPasid(proc);
        phase = 1;
        return in(100_000, 500_000);
      }
      IommuEvent end = variant == 0 ? sva.mmExit(proc) : sva.unbind(proc);
      h.tick(500, 20_000);
      IommuEvent access = sva.accessPasid(proc);
      if (variant == 0) {
        sva.unbind(proc);
      } else {
        sva.mmExit(proc);
      }
      sva.pasidFree(proc);
      sva.busy = null;
      var a = (io.iommureplay.schema.DeviceAccess) access.getPayload();
      label(
          sva.svaDomain,
          sva.device,
          a.getIova(),
          a.getIova() + a.getSize(),
          List.of(end, access),
          variant == 0 ? "after-mm-exit" : "after-unbind",
          null,
          null,
          null,
          null);
      return DONE;
    }
  }
}
