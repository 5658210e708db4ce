package io.iommureplay.model.iova;

import io.iommureplay.importer.FtraceImporter;
import io.iommureplay.importer.ImportSink;
import io.iommureplay.importer.TraceInput;
import io.iommureplay.model.iova.LinuxIovaAllocator.Adoption;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaPath;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.Unmapping;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The IOVA allocator calls of a real capture, replayed per domain on {@link LinuxIovaAllocator}:
 * every alloc_iova_fast() is compared with the pfn the kernel returned, and after a disagreement
 * the model adopts the kernel's answer and goes on.
 *
 * <p>Kprobe hits are sometimes missed; the unmap tracepoint never is. What is done about it:
 *
 * <ul>
 *   <li>Strict domains: the free follows the unmap in the same call on the same CPU, and the
 *       kprobes of one call are missed together (the strict capture misses exactly as many
 *       free_iova_fast as iommu_dma_unmap hits, 842). An unmap whose iommu_dma_unmap hit was missed
 *       (its attribution is not CPU_CONTEXT) therefore had its free missed too: the IOVA is freed
 *       there, on the unmapping CPU.
 *   <li>Lazy domains: nothing is inferred. The ring order of a flush queue is known, but not which
 *       reap (the timer on any CPU, or the next enqueue on the ring's CPU) freed a missed entry,
 *       and a free pushed onto the wrong CPU's magazine, or at the wrong moment, disorders the
 *       magazines worse than the missing free does (measured: 97.5 % agreement against 99.5 %). The
 *       kernel handing out such an IOVA again is seen by {@link LinuxIovaAllocator#adopt} as
 *       ALREADY_ALLOCATED; those disagreements are the ones explained by a missed kprobe hit.
 *   <li>A free of an IOVA whose allocation hit was missed is applied if the model holds the IOVA
 *       live (adopt() left the model's own pick allocated when the kernel's magazine lacked it).
 *   <li>free_iova() and remove_iova() run nested in free_iova_fast(); alone (their caller's hit
 *       missed) they are replayed as themselves.
 * </ul>
 */
final class IovaTraceReplay {
  enum Kind {
    INIT,
    RESERVE,
    ALLOC,
    FREE_FAST,
    FREE_RBTREE,
    REMOVE,
    UNMAP
  }

  static final int FLUSH_RCACHE = 1;
  static final int FROM_CACHE = 2;
  static final int DMA_CALL_SEEN = 4;

  /**
   * One recorded call. ALLOC: a = pages, b = limit pfn, c = the kernel's pfn; FREE_*: a = pfn, b =
   * pages; RESERVE, REMOVE: a..b; UNMAP: a = pfn, b = pages; INIT: a = granule shift, b = start
   * pfn.
   */
  record Op(Kind kind, long domain, int cpu, long ts, long a, long b, long c, int flags) {
    boolean has(int flag) {
      return (flags & flag) != 0;
    }
  }

  /** How one domain's replay went. */
  static final class DomainResult {
    long allocations;
    long agreed;
    long afterMissedFree;
    long cacheHitPredicted;
    long inferredFrees;
    final Map<Adoption, Long> adoptions = new EnumMap<>(Adoption.class);

    double rate() {
      return allocations == 0 ? 1 : (double) agreed / allocations;
    }

    /**
     * Agreement leaving out disagreements where the kernel reused an IOVA whose free was missed.
     */
    double rateExcludingMissedFrees() {
      long counted = allocations - afterMissedFree;
      return counted == 0 ? 1 : (double) agreed / counted;
    }

    double cachePrediction() {
      return allocations == 0 ? 1 : (double) cacheHitPredicted / allocations;
    }
  }

  private IovaTraceReplay() {}

  static List<Op> load(Path trace) throws IOException {
    List<Op> ops = new ArrayList<>();
    FtraceImporter importer =
        new FtraceImporter(
            "replay",
            new ImportSink() {
              @Override
              public void event(IommuEvent e) {
                Op op = toOp(e);
                if (op != null) ops.add(op);
              }

              @Override
              public void rejected(RejectedLine line) {}
            });
    try (BufferedReader in = TraceInput.open(trace)) {
      importer.read(trace.getFileName().toString(), in);
    }
    importer.finish();
    return ops;
  }

  private static Op toOp(IommuEvent e) {
    long d = e.getDomain();
    if (d < 0) return null;
    int cpu = e.getCpu();
    long ts = e.getTsNs();
    return switch (e.getType()) {
      case IOVA_DOMAIN_INIT -> {
        IovaDomainInit p = (IovaDomainInit) e.getPayload();
        yield new Op(
            Kind.INIT,
            d,
            cpu,
            ts,
            Long.numberOfTrailingZeros(p.getGranule()),
            p.getStartPfn(),
            0,
            0);
      }
      case IOVA_RESERVE -> {
        IovaRange p = (IovaRange) e.getPayload();
        yield new Op(Kind.RESERVE, d, cpu, ts, p.getPfnLo(), p.getPfnHi(), 0, 0);
      }
      case IOVA_ALLOC -> {
        IovaAllocation p = (IovaAllocation) e.getPayload();
        if (p.getPath() != IovaPath.FAST) yield null; // alloc_iova() nested in alloc_iova_fast()
        long pfn = p.getPfn() == null ? IovaAllocator.FAILED : p.getPfn();
        int flags =
            (p.getFlushRcache() ? FLUSH_RCACHE : 0)
                | (Boolean.TRUE.equals(p.getFromCache()) ? FROM_CACHE : 0);
        yield new Op(Kind.ALLOC, d, cpu, ts, p.getPages(), p.getLimitPfn(), pfn, flags);
      }
      case IOVA_FREE -> {
        IovaFree p = (IovaFree) e.getPayload();
        yield new Op(
            p.getPath() == IovaPath.FAST ? Kind.FREE_FAST : Kind.FREE_RBTREE,
            d,
            cpu,
            ts,
            p.getPfn(),
            p.getPages() == null ? 0 : p.getPages(),
            0,
            0);
      }
      case IOVA_REMOVE -> {
        IovaRange p = (IovaRange) e.getPayload();
        yield new Op(Kind.REMOVE, d, cpu, ts, p.getPfnLo(), p.getPfnHi(), 0, 0);
      }
      case UNMAP -> {
        Unmapping p = (Unmapping) e.getPayload();
        yield new Op(
            Kind.UNMAP,
            d,
            cpu,
            ts,
            p.getIova() >>> 12,
            p.getSize() >>> 12,
            0,
            e.getAttribution() == Attribution.CPU_CONTEXT ? DMA_CALL_SEEN : 0);
      }
      default -> null;
    };
  }

  /**
   * Replays {@code ops} with {@code profile} on {@code cpus} CPUs.
   *
   * @param inferStrictFrees the capture's DMA domains unmap strictly (iommu.strict=1): infer the
   *     frees whose kprobe hits were missed from their unmaps
   */
  static Map<Long, DomainResult> replay(
      List<Op> ops, KernelProfile profile, int cpus, boolean inferStrictFrees) {
    Map<Long, Domain> domains = new HashMap<>();
    Map<Long, DomainResult> results = new TreeMap<>();
    for (Op op : ops) {
      if (op.kind == Kind.INIT) {
        Domain domain =
            new Domain(new LinuxIovaAllocator(profile, cpus, (int) op.a, op.b), inferStrictFrees);
        domains.put(op.domain, domain);
        results.put(op.domain, domain.result);
      } else {
        Domain domain = domains.get(op.domain);
        if (domain != null) domain.apply(op);
      }
    }
    results.values().removeIf(r -> r.allocations == 0);
    return results;
  }

  private static final class Domain {
    final LinuxIovaAllocator model;
    final boolean inferStrictFrees;
    final DomainResult result = new DomainResult();
    final Map<Long, Long> kernelLive =
        new HashMap<>(); // pfn → pages the kernel handed out and has not freed
    long lastFastFree = -1;

    Domain(LinuxIovaAllocator model, boolean inferStrictFrees) {
      this.model = model;
      this.inferStrictFrees = inferStrictFrees;
    }

    void apply(Op op) {
      switch (op.kind) {
        case RESERVE -> model.reserve(op.a, op.b);
        case ALLOC -> allocate(op);
        case FREE_FAST -> {
          lastFastFree = op.a;
          Long pages = kernelLive.remove(op.a);
          if (pages != null) model.free(op.a, pages, op.cpu, op.ts);
          else if (model.isLive(op.a)) model.free(op.a, op.b, op.cpu, op.ts);
        }
        case FREE_RBTREE -> {
          if (op.a != lastFastFree && kernelLive.remove(op.a) != null) model.freeIova(op.a, op.ts);
        }
        case REMOVE -> {
          if (op.a != lastFastFree && kernelLive.remove(op.a) != null)
            model.removeIova(op.a, op.b, op.ts);
        }
        case UNMAP -> {
          Long pages = inferStrictFrees && !op.has(DMA_CALL_SEEN) ? kernelLive.remove(op.a) : null;
          if (pages != null) {
            result.inferredFrees++;
            model.free(op.a, pages, op.cpu, op.ts);
          }
        }
        default -> throw new IllegalStateException(op.toString());
      }
    }

    private void allocate(Op op) {
      if (op.a == 0) return; // the alloc_iova_fast() entry hit was missed: no size
      result.allocations++;
      long hitsBefore = model.stats().cacheHits();
      long pfn = model.allocIovaFast(op.a, op.b, op.has(FLUSH_RCACHE), op.cpu, op.ts);
      if ((model.stats().cacheHits() > hitsBefore) == op.has(FROM_CACHE))
        result.cacheHitPredicted++;
      if (pfn == op.c) {
        result.agreed++;
      } else {
        Adoption adoption = model.adopt(op.c, op.a, op.cpu, op.ts);
        result.adoptions.merge(adoption, 1L, Long::sum);
        if (adoption == Adoption.ALREADY_ALLOCATED) result.afterMissedFree++;
      }
      if (op.c != IovaAllocator.FAILED) kernelLive.put(op.c, op.a);
    }
  }
}
