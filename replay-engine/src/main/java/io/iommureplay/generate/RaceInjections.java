package io.iommureplay.generate;

import static io.iommureplay.generate.GenDomain.PROT_CACHE;
import static io.iommureplay.generate.GenDomain.PROT_READ;
import static io.iommureplay.generate.GenDomain.PROT_WRITE;

import io.iommureplay.model.iova.IovaAllocator;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import java.util.ArrayList;
import java.util.List;

/** Injected writer races: SPEC "Overlapping-range writer races". */
final class RaceInjections {
  private RaceInjections() {}

  static final int RW = PROT_READ | PROT_WRITE | PROT_CACHE;

  /**
   * WRITER_RACE in a strict domain. CPU a unmaps a buffer (UNMAP, its page-selective flush) while
   * CPU b maps the same IOVA to another page without any IOVA allocation handing it over.
   * "overlapping": the two calls run at the same time (their [tsNs − durationNs, tsNs] intervals
   * overlap, as do [tsNs, tsNs + durationNs]). "unordered": b maps 20–200 µs later, still without
   * an allocation. The IOVA is never freed (b's mapping stays).
   */
  static final class WriterRace extends Injection {
    int a;
    int b;
    Buffer x;
    IommuEvent unmap;

    WriterRace(HostGenerator h, int variant, GenDomain lane, long startNs) {
      super(h, FindingType.WRITER_RACE, variant, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      switch (phase++) {
        case 0 -> {
          a = h.randomCpu();
          b = h.otherCpu(a);
          x = page(d, a);
          return in(20_000, 300_000);
        }
        case 1 -> {
          if (variant == 0) d.forcedDurationNs = 3_000 + h.rnd.nextLong(2_000);
          unmap = d.unmap(x.iova, x.bytes, a);
          d.strictFlush(x.iova, x.bytes, !d.lastUnmapTables.isEmpty(), a);
          d.freeTables(
              List.copyOf(d.lastUnmapTables), a, io.iommureplay.schema.TableFreeMode.AFTER_FLUSH);
          d.recycle(x);
          if (variant == 0) return mapOver();
          return in(20_000, 200_000);
        }
        default -> {
          return mapOver();
        }
      }
    }

    private long mapOver() {
      GenDomain d = lane;
      if (variant == 0) {
        h.tick(200, 500);
        d.forcedStartNs = unmap.getTsNs() - 500 - h.rnd.nextLong(1_500);
      }
      IommuEvent map = d.map(x.iova, d.pool.take(12), 4096, RW, b);
      label(
          d,
          x.iova,
          x.iova + 4096,
          List.of(unmap, map),
          variant == 0 ? "overlapping" : "unordered");
      return DONE;
    }
  }

  /**
   * MAP_OVER_LIVE_MAPPING: the CPU that mapped a live buffer maps its IOVA again to another page
   * (iommu_map with a stale address, no allocation). VT-d keeps the old PTEs ("DMA PTE for vPFN
   * already set"); the buffer is later unmapped and freed as usual.
   */
  static final class MapOverLive extends Injection {
    Buffer x;
    IommuEvent second;

    MapOverLive(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.MAP_OVER_LIVE_MAPPING, 0, lane, startNs);
    }

    @Override
    long step() {
      switch (phase++) {
        case 0 -> {
          x = pages(lane, h.randomCpu(), 1 + h.rnd.nextInt(4));
          return in(10_000, 300_000);
        }
        case 1 -> {
          int log2 = 63 - Long.numberOfLeadingZeros(x.bytes);
          long size = 1L << log2;
          second = lane.map(x.iova, lane.pool.take(log2), size, RW, x.mapCpu);
          if (!lane.lastMap.hitLiveMapping()) throw new IllegalStateException("no live mapping");
          label(lane, x.iova, x.iova + size, List.of(x.mapEvent, second), null);
          return in(10_000, 300_000);
        }
        default -> {
          Actors.access(h, lane, x.iova, 256, false);
          lane.release(x, x.mapCpu);
          return DONE;
        }
      }
    }
  }

  /**
   * UNMAP_OF_UNMAPPED: a buffer is unmapped and released, then unmapped again by the same CPU (a
   * double dma_unmap). VT-d's unmap walks the hole and reports the whole size as unmapped, so
   * dma-iommu goes on as for any unmap: strict — the page-selective flush; lazy — the flush queue.
   * The second free of the IOVA (which would corrupt the allocator) is left out.
   */
  static final class UnmapOfUnmapped extends Injection {
    Buffer x;
    int cpu;

    UnmapOfUnmapped(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.UNMAP_OF_UNMAPPED, 0, lane, startNs);
    }

    @Override
    long step() {
      if (phase++ == 0) {
        cpu = h.randomCpu();
        x = h.rnd.nextBoolean() ? page(lane, cpu) : pages(lane, cpu, 2);
        return in(10_000, 300_000);
      }
      IommuEvent first = lane.release(x, cpu);
      h.tick(1_000, 20_000);
      IommuEvent second = lane.release(x, cpu, false, false, null);
      if (lane.lastUnmap.notMappedBytes() != x.bytes) throw new IllegalStateException("mapped");
      label(lane, x.iova, x.iova + x.bytes, List.of(first, second), null);
      return DONE;
    }
  }

  /**
   * LARGE_PAGE_SPLIT in an UNMANAGED domain: a 2 MiB superpage is mapped, then iommu_unmap() of 4
   * KiB–1 MiB at its start; VT-d removes the whole superpage (unmapped_size 2 MiB) and the sync
   * flushes the rounded range.
   */
  static final class LargePageSplit extends Injection {
    Buffer x;
    int cpu;

    LargePageSplit(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.LARGE_PAGE_SPLIT, 0, lane, startNs);
    }

    @Override
    long step() {
      if (phase++ == 0) {
        cpu = h.randomCpu();
        long region = lane.freshRegion();
        x = Buffer.single(region, -1, 0, lane.pool.take(21), 21);
        lane.mapPieces(x, cpu, RW);
        Actors.access(h, lane, x.iova + (h.rnd.nextLong(512) << 12), 4096, true);
        return in(20_000, 500_000);
      }
      long size = (1L + h.rnd.nextLong(256)) << 12;
      IommuEvent unmap = lane.unmap(x.iova, size, cpu);
      if (lane.lastUnmap.unmappedSize() != 2L << 20) throw new IllegalStateException("no split");
      lane.strictFlush(x.iova, 2L << 20, !lane.lastUnmapTables.isEmpty(), cpu);
      lane.recycle(x);
      label(lane, x.iova, x.iova + (2L << 20), List.of(x.mapEvent, unmap), null);
      return DONE;
    }
  }

  /**
   * TABLE_INSTALL_RACE: CPUs a and b map the two halves of a fresh 2 MiB IOVA allocation at the
   * same time; both allocate the level-1 table of that span (PGTABLE_ALLOC from each CPU within the
   * other's map call), a's cmpxchg wins. "resolved": b frees its page at once (PGTABLE_FREE
   * IMMEDIATE of b's address); "leaked": it never does.
   */
  static final class TableInstallRace extends Injection {
    Buffer buf;
    int a;

    TableInstallRace(HostGenerator h, int variant, GenDomain lane, long startNs) {
      super(h, FindingType.TABLE_INSTALL_RACE, variant, lane, startNs);
    }

    @Override
    long step() {
      GenDomain d = lane;
      if (phase == 1) {
        Actors.access(h, d, buf.iova + (1L << 20) - 2048, 4096, false);
        d.release(buf, a);
        return DONE;
      }
      a = h.randomCpu();
      int b = h.otherCpu(a);
      long pfn = d.allocIova(512, a);
      if (pfn == IovaAllocator.FAILED) throw new IllegalStateException("no 2 MiB IOVA");
      long span = pfn << 12;
      if (d.level1Spans.contains(span)) {
        // The span's table is there already: nothing to race for. Give the IOVA back, try later.
        d.freeIova(pfn, 512, a);
        return in(1_000_000, 3_000_000);
      }
      phase = 1;
      long pa = d.pool.take(20);
      long pb = d.pool.take(20);
      long loser = h.tablePages.take(12);
      IommuEvent[] loserAlloc = new IommuEvent[1];
      d.forcedDurationNs = 2_500 + h.rnd.nextLong(1_000);
      d.mapHook =
          () -> {
            h.tick(100, 300);
            loserAlloc[0] = d.emitLoserTable(EventType.PGTABLE_ALLOC, 1, span, 2L << 20, loser, b);
          };
      IommuEvent mapA = d.map(span, pa, 1L << 20, RW, a);
      IommuEvent winnerAlloc = null;
      for (IommuEvent e : d.lastTableAllocs) {
        var t = (io.iommureplay.schema.TablePage) e.getPayload();
        if (t.getLevel() == 1 && t.getIova() == span) winnerAlloc = e;
      }
      if (winnerAlloc == null) throw new IllegalStateException("no level-1 install");
      List<IommuEvent> evidence = new ArrayList<>(List.of(winnerAlloc, loserAlloc[0]));
      if (variant == 0) {
        h.tick(100, 300);
        evidence.add(d.emitLoserTable(EventType.PGTABLE_FREE, 1, span, 2L << 20, loser, b));
        h.tablePages.give(loser, 12);
      }
      h.tick(100, 300);
      d.forcedStartNs = loserAlloc[0].getTsNs() - 100 - h.rnd.nextLong(300);
      IommuEvent mapB = d.map(span + (1L << 20), pb, 1L << 20, RW, b);
      buf = new Buffer(span, pfn, 512, 2L << 20, new long[] {pa, pb}, new byte[] {20, 20});
      buf.mapEvent = mapA;
      buf.mapCpu = a;
      if (mapB.getTsNs() < mapA.getTsNs()) throw new IllegalStateException("order");
      label(d, span, span + (2L << 20), evidence, variant == 0 ? "resolved" : "leaked");
      return in(20_000, 500_000);
    }
  }

  /**
   * WALK_FREE_RACE in an UNMANAGED domain: a debugfs dump walks the domain's page table
   * (PGTABLE_WALK over the whole space, 2–4 ms) while a 2 MiB superpage map replaces an emptied
   * level-1 table and frees it at once (VT-d switch_to_super_page: PGTABLE_FREE IMMEDIATE, then the
   * flush). The same free is also a table freed before its flush.
   */
  static final class WalkFreeRace extends Injection {
    long region;
    int cpu;
    IommuEvent walk;
    Buffer big;
    final boolean withWalk;

    WalkFreeRace(HostGenerator h, FindingType type, int variant, GenDomain lane, long startNs) {
      super(h, type, variant, lane, startNs);
      this.withWalk = type == FindingType.WALK_FREE_RACE;
    }

    @Override
    long step() {
      GenDomain d = lane;
      switch (phase++) {
        case 0 -> {
          cpu = h.randomCpu();
          region = d.freshRegion();
          Buffer small = Buffer.single(region, -1, 0, d.pool.take(16), 16);
          d.mapPieces(small, cpu, RW);
          Actors.access(h, d, region, 4096, true);
          d.release(small, cpu); // the level-1 table stays, empty
          if (!d.level1Spans.contains(region)) throw new IllegalStateException("no table");
          return in(20_000, 200_000);
        }
        case 1 -> {
          if (withWalk) {
            h.tick(200, 1_000);
            walk =
                h.emit(
                    EventType.PGTABLE_WALK,
                    h.randomCpu(),
                    d,
                    d.device,
                    io.iommureplay.schema.Attribution.TRACE,
                    new io.iommureplay.schema.TableWalk(
                        "debugfs:domain_translation_struct",
                        0L,
                        1L << 48,
                        h.now + 2_000_000 + h.rnd.nextLong(2_000_000)));
            return in(300_000, 1_500_000);
          }
          return superpage();
        }
        case 2 -> {
          if (withWalk) return superpage();
          return cleanUp();
        }
        default -> {
          return cleanUp();
        }
      }
    }

    private long superpage() {
      GenDomain d = lane;
      big = Buffer.single(region, -1, 0, d.pool.take(21), 21);
      d.mapPieces(big, h.otherCpu(cpu), RW);
      if (d.lastImmediateFrees.isEmpty()) throw new IllegalStateException("no table replaced");
      IommuEvent free = d.lastImmediateFrees.get(0);
      if (withWalk) {
        label(
            d.id,
            d.device,
            region,
            region + (2L << 20),
            List.of(walk, free, big.mapEvent),
            null,
            null,
            null,
            null,
            List.of(FindingType.TABLE_FREE_BEFORE_FLUSH));
        return Math.max(in(500_000, 1_000_000), walkEnd() + 100_000);
      }
      label(
          d.id,
          d.device,
          region,
          region + (2L << 20),
          List.of(free, big.mapEvent),
          "superpage-map",
          null,
          null,
          null,
          null);
      return in(100_000, 1_000_000);
    }

    private long walkEnd() {
      return ((io.iommureplay.schema.TableWalk) walk.getPayload()).getEndNs();
    }

    private long cleanUp() {
      Actors.access(h, lane, region, 4096, false);
      lane.release(big, cpu);
      return DONE;
    }
  }
}
