package io.iommureplay.generate;

import io.iommureplay.schema.FindingType;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Spreads a host's share of the injected bugs over the middle of its trace (5% to 85% of the
 * expected time, so normal traffic runs before and after every one), on lanes: domains of the kind
 * each bug needs, one injection at a time per lane, instances of one type on one lane at least 30
 * ms apart (more than the coalescing interval and a lazy window). Where the workload has no domain
 * of a kind, or too few for the count asked for, extra devices are added.
 */
final class InjectionPlanner {
  private InjectionPlanner() {}

  /** What a bug needs of its domain. */
  enum Kind {
    /** A DMA-API domain with 4 KiB traffic, in the trace's mode (NIC, NVMe). */
    DMA4K,
    /** A strict DMA domain (in lazy traces: an external device's). */
    STRICT,
    /** A strict DMA domain used for nothing else (windows that stay open). */
    PERM,
    /** An UNMANAGED domain (VFIO, or an accelerator's). */
    UNMANAGED,
    /** A quiet device of its own (LONG_WINDOW). */
    LONG,
    DMA32_EXHAUST,
    DMA32_FRAG,
    DMA28,
    SVA
  }

  static final long GAP_NS = 30_000_000L;

  static int variants(FindingType t) {
    return switch (t) {
      case WRITER_RACE,
              PHYS_REUSE_IN_WINDOW,
              RESERVED_REGION_MAPPING,
              PASID_USE_AFTER_EXIT,
              TABLE_INSTALL_RACE ->
          2;
      case TABLE_FREE_BEFORE_FLUSH -> 3;
      default -> 1;
    };
  }

  static Kind kind(FindingType t, int variant) {
    return switch (t) {
      case WRITER_RACE -> Kind.STRICT;
      case LARGE_PAGE_SPLIT, WALK_FREE_RACE -> Kind.UNMANAGED;
      case MISSING_FLUSH, PARTIAL_FLUSH -> Kind.PERM;
      case TABLE_FREE_BEFORE_FLUSH ->
          variant == 0 ? Kind.STRICT : variant == 1 ? Kind.DMA4K : Kind.UNMANAGED;
      case LONG_WINDOW -> Kind.LONG;
      case ALLOC_FAILURE_FRAGMENTED -> Kind.DMA28;
      case IOVA32_EXHAUSTED -> Kind.DMA32_EXHAUST;
      case HIGH_FRAGMENTATION -> Kind.DMA32_FRAG;
      case PASID_USE_AFTER_EXIT -> Kind.SVA;
      default -> Kind.DMA4K;
    };
  }

  /** How long an instance holds its lane, roughly. */
  static long occupancyNs(FindingType t, boolean lazy) {
    return switch (t) {
      case LONG_WINDOW -> 260_000_000L;
      case HIGH_FRAGMENTATION -> lazy ? 350_000_000L : 310_000_000L;
      case ALLOC_FAILURE_FRAGMENTED, IOVA32_EXHAUSTED -> lazy ? 45_000_000L : 3_000_000L;
      case WALK_FREE_RACE, DETACH_WITH_OPEN_WINDOWS, PARTIAL_FLUSH -> 5_000_000L;
      default -> 2_000_000L;
    };
  }

  static void plan(HostGenerator h) {
    GeneratorOptions opt = h.opt;
    Map<FindingType, Integer> counts = new EnumMap<>(FindingType.class);
    for (Map.Entry<FindingType, Integer> e : opt.inject().entrySet()) {
      int n = e.getValue() / opt.hosts() + (h.index < e.getValue() % opt.hosts() ? 1 : 0);
      if (n > 0) counts.put(e.getKey(), n);
    }
    if (counts.isEmpty()) return;
    long total = h.expectedDurationNs();
    long from = h.now + total / 20;
    long span = Math.max(1, total * 8 / 10);

    // Lanes per kind: enough for each type's spacing and for the total occupancy.
    EnumMap<Kind, Integer> need = new EnumMap<>(Kind.class);
    EnumMap<Kind, Long> busy = new EnumMap<>(Kind.class);
    for (Map.Entry<FindingType, Integer> e : counts.entrySet()) {
      FindingType t = e.getKey();
      int nv = variants(t);
      for (int v = 0; v < nv; v++) {
        int kv = (e.getValue() - v + nv - 1) / nv;
        if (kv <= 0) continue;
        Kind k = kind(t, v);
        long d = occupancyNs(t, opt.lazy());
        int lanes = (int) Math.ceil((double) kv * (d + GAP_NS) / span);
        need.merge(k, Math.max(1, lanes), Math::max);
        busy.merge(k, kv * d, Long::sum);
      }
    }
    EnumMap<Kind, List<GenDomain>> lanes = new EnumMap<>(Kind.class);
    for (Map.Entry<Kind, Integer> e : need.entrySet()) {
      Kind k = e.getKey();
      int n = Math.max(e.getValue(), (int) Math.ceil(busy.get(k) / (0.5 * span)));
      if (k != Kind.SVA) lanes.put(k, lanes(h, k, n));
    }
    Actors.Sva sva = need.containsKey(Kind.SVA) ? h.workloads.svaLane() : null;
    List<GenDomain> others = new ArrayList<>(h.workloads.dma4k);
    if (lanes.containsKey(Kind.DMA4K)) {
      for (GenDomain d : lanes.get(Kind.DMA4K)) if (!others.contains(d)) others.add(d);
    }
    if (counts.containsKey(FindingType.PHYS_REUSE_IN_WINDOW) && others.size() < 2) {
      others.add(h.workloads.auxDma4k());
    }

    for (Map.Entry<FindingType, Integer> e : counts.entrySet()) {
      FindingType t = e.getKey();
      int k = e.getValue();
      int nv = variants(t);
      EnumMap<Kind, Integer> next = new EnumMap<>(Kind.class);
      for (int j = 0; j < k; j++) {
        int v = j % nv;
        Kind kind = kind(t, v);
        long at = from + (long) ((j + 0.5 * h.rnd.nextDouble()) * span / k);
        if (kind == Kind.SVA) {
          h.schedule(new WindowInjections.PasidAfterExit(h, v, sva, at));
          continue;
        }
        List<GenDomain> ls = lanes.get(kind);
        int i = next.merge(kind, 1, Integer::sum) - 1;
        GenDomain lane = ls.get((i + t.ordinal()) % ls.size());
        h.schedule(create(h, t, v, lane, others, at));
      }
    }
  }

  private static List<GenDomain> lanes(HostGenerator h, Kind k, int n) {
    Workloads w = h.workloads;
    List<GenDomain> out = new ArrayList<>();
    switch (k) {
      case DMA4K -> out.addAll(w.dma4k);
      case STRICT -> {
        if (!h.opt.lazy()) out.addAll(w.dma4k);
      }
      case UNMANAGED -> out.addAll(w.unmanaged);
      default -> {}
    }
    while (out.size() < n) {
      out.add(
          switch (k) {
            case DMA4K -> w.auxDma4k();
            case STRICT, PERM -> w.external();
            case UNMANAGED -> w.accelerator();
            case LONG -> w.quiet();
            case DMA32_EXHAUST -> w.narrow(Workloads.BUS_DMA32, 32);
            case DMA32_FRAG -> w.narrow(Workloads.BUS_DMA32_FRAG, 32);
            case DMA28 -> w.narrow(Workloads.BUS_DMA28, 28);
            case SVA -> throw new IllegalArgumentException("SVA lanes are devices");
          });
    }
    return out;
  }

  private static Injection create(
      HostGenerator h, FindingType t, int v, GenDomain lane, List<GenDomain> others, long at) {
    return switch (t) {
      case WRITER_RACE -> new RaceInjections.WriterRace(h, v, lane, at);
      case MAP_OVER_LIVE_MAPPING -> new RaceInjections.MapOverLive(h, lane, at);
      case UNMAP_OF_UNMAPPED -> new RaceInjections.UnmapOfUnmapped(h, lane, at);
      case LARGE_PAGE_SPLIT -> new RaceInjections.LargePageSplit(h, lane, at);
      case TABLE_INSTALL_RACE -> new RaceInjections.TableInstallRace(h, v, lane, at);
      case WALK_FREE_RACE -> new RaceInjections.WalkFreeRace(h, t, 0, lane, at);
      case DEVICE_ACCESS_AFTER_UNMAP -> new WindowInjections.AccessAfterUnmap(h, lane, at);
      case PHYS_REUSE_IN_WINDOW -> {
        List<GenDomain> candidates = new ArrayList<>(others);
        candidates.remove(lane);
        GenDomain other = candidates.get(h.rnd.nextInt(candidates.size()));
        yield new WindowInjections.PhysReuse(h, v, lane, other, at);
      }
      case IOVA_REUSE_BEFORE_FLUSH -> new WindowInjections.IovaReuse(h, lane, at);
      case MISSING_FLUSH -> new WindowInjections.MissingFlush(h, lane, at);
      case PARTIAL_FLUSH -> new WindowInjections.PartialFlush(h, lane, at);
      case DETACH_WITH_OPEN_WINDOWS -> new WindowInjections.DetachOpen(h, lane, at);
      case TABLE_FREE_BEFORE_FLUSH ->
          v == 2
              ? new RaceInjections.WalkFreeRace(h, t, 2, lane, at)
              : new WindowInjections.TableFreeEarly(h, v, lane, at);
      case LONG_WINDOW -> new WindowInjections.LongWindow(h, lane, at);
      case RESERVED_REGION_MAPPING -> new WindowInjections.ReservedMapping(h, v, lane, at);
      case ALLOC_FAILURE_FRAGMENTED -> new AllocatorInjections.Fragmented(h, lane, at);
      case IOVA32_EXHAUSTED -> new AllocatorInjections.Exhausted(h, lane, at);
      case HIGH_FRAGMENTATION -> new AllocatorInjections.HighFragmentation(h, lane, at);
      default -> throw new IllegalArgumentException("cannot inject " + t);
    };
  }
}
