package io.iommureplay.model;

import io.iommureplay.model.iova.IovaAllocator;
import io.iommureplay.model.iova.KernelProfile;
import io.iommureplay.model.iova.LinuxIovaAllocator;
import io.iommureplay.model.iova.LinuxIovaAllocator.Adoption;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaPath;
import java.util.EnumMap;
import java.util.Map;

/**
 * The kernel's IOVA allocator of one DMA domain, replayed decision by decision: every
 * alloc_iova_fast() the trace shows is asked of the {@link LinuxIovaAllocator} model and compared
 * with the pfn the kernel returned; after a disagreement the model adopts the kernel's answer and
 * goes on (SPEC: the model "must return the same pfn as the kernel").
 *
 * <p>Kprobe hits are sometimes missed; the unmap tracepoint never is:
 *
 * <ul>
 *   <li>Strict domains: the free follows the unmap in the same call on the same CPU
 *       (__iommu_dma_unmap → iommu_dma_free_iova), and the kprobes of one call are missed together.
 *       An unmap whose dma-iommu kprobe was missed had its free missed too: the IOVA is freed
 *       there.
 *   <li>Lazy domains: nothing is inferred: which reap freed a missed entry is not known, and a free
 *       put on the wrong CPU's magazine disorders the caches more than the missing free does. The
 *       kernel handing out such an IOVA again shows as {@link Adoption#ALREADY_ALLOCATED}.
 *   <li>free_iova() and remove_iova() run nested in free_iova_fast(); alone (their caller's hit
 *       missed) they are replayed as themselves.
 * </ul>
 */
public final class IovaReplay {
  private final LinuxIovaAllocator model;

  /** pfn → pages the kernel handed out and has not freed. */
  private final LongLongMap kernelLive = new LongLongMap();

  private final Map<Adoption, Long> adoptions = new EnumMap<>(Adoption.class);
  private long lastFastFree = -1;
  private long allocations;
  private long agreed;
  private long afterMissedFree;
  private long cacheHitPredicted;
  private long inferredFrees;

  IovaReplay(KernelProfile profile, int cpus, long granule, long startPfn) {
    this(new LinuxIovaAllocator(profile, cpus, Long.numberOfTrailingZeros(granule), startPfn));
  }

  private IovaReplay(LinuxIovaAllocator model) {
    this.model = model;
  }

  /** The allocator model, for statistics and fragmentation samples (read, do not drive). */
  public LinuxIovaAllocator allocator() {
    return model;
  }

  void reserve(long pfnLo, long pfnHi) {
    model.reserve(pfnLo, pfnHi);
  }

  /**
   * The kernel's answer to an alloc_iova_fast() (IOVA_ALLOC, FAST path).
   *
   * @return the pfn the model chose, or {@link IovaAllocator#FAILED}; -2 when the call cannot be
   *     replayed (its entry hit was missed: no size)
   */
  long allocated(IovaAllocation alloc, int cpu, long nowNs) {
    if (alloc.getPages() == 0) return -2;
    allocations++;
    long kernelPfn = alloc.getPfn() == null ? IovaAllocator.FAILED : alloc.getPfn();
    long hitsBefore = model.cacheHits();
    long pfn =
        model.allocIovaFast(
            alloc.getPages(), alloc.getLimitPfn(), alloc.getFlushRcache(), cpu, nowNs);
    boolean predictedHit = model.cacheHits() > hitsBefore;
    if (alloc.getFromCache() != null && predictedHit == alloc.getFromCache()) cacheHitPredicted++;
    if (pfn == kernelPfn) {
      agreed++;
    } else {
      Adoption adoption = model.adopt(kernelPfn, alloc.getPages(), cpu, nowNs);
      adoptions.merge(adoption, 1L, Long::sum);
      if (adoption == Adoption.ALREADY_ALLOCATED) afterMissedFree++;
    }
    if (kernelPfn != IovaAllocator.FAILED) kernelLive.put(kernelPfn, alloc.getPages());
    return pfn;
  }

  void freed(IovaFree free, int cpu, long nowNs) {
    long pfn = free.getPfn();
    if (free.getPath() == IovaPath.FAST) {
      lastFastFree = pfn;
      long pages = kernelLive.remove(pfn);
      if (pages != LongLongMap.MISSING) {
        model.free(pfn, pages, cpu, nowNs);
      } else if (model.isLive(pfn) && free.getPages() != null) {
        model.free(pfn, free.getPages(), cpu, nowNs);
      }
    } else if (pfn != lastFastFree && kernelLive.remove(pfn) != LongLongMap.MISSING) {
      model.freeIova(pfn, nowNs);
    }
  }

  void removed(long pfnLo, long pfnHi, long nowNs) {
    if (pfnLo != lastFastFree && kernelLive.remove(pfnLo) != LongLongMap.MISSING)
      model.removeIova(pfnLo, pfnHi, nowNs);
  }

  /** A strict unmap whose free_iova_fast hit was missed with its dma-iommu one: free it here. */
  void missedStrictFree(long pfn, int cpu, long nowNs) {
    long pages = kernelLive.remove(pfn);
    if (pages != LongLongMap.MISSING) {
      inferredFrees++;
      model.free(pfn, pages, cpu, nowNs);
    }
  }

  /** alloc_iova_fast() calls replayed. */
  public long allocations() {
    return allocations;
  }

  /** Of those, where the model chose the kernel's pfn. */
  public long agreed() {
    return agreed;
  }

  /** Disagreements where the kernel reused an IOVA whose free the trace lost. */
  public long afterMissedFree() {
    return afterMissedFree;
  }

  /** Agreement with the kernel, all allocations counted (1 when there were none). */
  public double kernelAgreement() {
    return allocations == 0 ? 1 : (double) agreed / allocations;
  }

  /** Agreement leaving out the disagreements a missed free explains. */
  public double kernelAgreementExcludingMissedFrees() {
    long counted = allocations - afterMissedFree;
    return counted == 0 ? 1 : (double) agreed / counted;
  }

  /** Share of allocations whose cache hit or miss the model predicted. */
  public double cachePrediction() {
    return allocations == 0 ? 1 : (double) cacheHitPredicted / allocations;
  }

  public long inferredFrees() {
    return inferredFrees;
  }

  public Map<Adoption, Long> adoptions() {
    return Map.copyOf(adoptions);
  }

  /** The kernel's live IOVAs go in pfn order, each pfn as its distance from the previous one. */
  void save(SnapshotOutput out) {
    model.save(out);
    out.writeVarInt(kernelLive.size());
    long previous = 0;
    for (long pfn : kernelLive.sortedKeys()) {
      out.writeVarLong(pfn - previous).writeVarLong(kernelLive.get(pfn));
      previous = pfn;
    }
    out.writeVarInt(adoptions.size());
    adoptions.forEach((adoption, n) -> out.writeEnum(adoption).writeVarLong(n));
    out.writeSignedVarLong(lastFastFree)
        .writeVarLong(allocations)
        .writeVarLong(agreed)
        .writeVarLong(afterMissedFree)
        .writeVarLong(cacheHitPredicted)
        .writeVarLong(inferredFrees);
  }

  static IovaReplay restore(SnapshotInput in) {
    IovaReplay r = new IovaReplay(LinuxIovaAllocator.restore(in));
    long pfn = 0;
    for (int n = in.readCount(); n > 0; n--) {
      pfn += in.readVarLong();
      r.kernelLive.put(pfn, in.readVarLong());
    }
    for (int n = in.readCount(); n > 0; n--)
      r.adoptions.put(in.readEnum(Adoption.class), in.readVarLong());
    r.lastFastFree = in.readSignedVarLong();
    r.allocations = in.readVarLong();
    r.agreed = in.readVarLong();
    r.afterMissedFree = in.readVarLong();
    r.cacheHitPredicted = in.readVarLong();
    r.inferredFrees = in.readVarLong();
    return r;
  }
}
