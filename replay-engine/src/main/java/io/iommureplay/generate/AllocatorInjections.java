package io.iommureplay.generate;

import static io.iommureplay.generate.RaceInjections.RW;

import io.iommureplay.model.iova.IovaAllocator;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Injected allocator bugs: SPEC "Allocator fragmentation". Each runs on a device of its own with a
 * narrow DMA mask, whose domain nothing else uses: the injection fills the window below the mask
 * with large buffers (order 6 and up, so frees go straight back to the rbtree and the window is
 * empty again after each instance), makes the state it needs, and gives everything back. In lazy
 * mode the frees go through the flush queue; the injection waits for their release.
 */
final class AllocatorInjections {
  private AllocatorInjections() {}

  /** Base of the three: buffers of the lane and the wait for their release. */
  abstract static class Filling extends Injection {
    final List<Buffer> blocks = new ArrayList<>();
    int cpu;
    int outstanding;
    IommuEvent lastRelease;

    Filling(HostGenerator h, FindingType type, GenDomain lane, long startNs) {
      super(h, type, 0, lane, startNs);
    }

    /** Allocates and maps a buffer of 2^log2 pages; null if the allocation failed. */
    Buffer block(int log2Pages) {
      long pages = 1L << log2Pages;
      long pfn = lane.allocIova(pages, cpu);
      if (pfn == IovaAllocator.FAILED) return null;
      long piece = lane.pool.take(12 + log2Pages);
      Buffer b = Buffer.single(pfn << 12, pfn, pages, piece, 12 + log2Pages);
      lane.mapPieces(b, cpu, RW);
      blocks.add(b);
      return b;
    }

    /** Unmaps and frees {@code b}; counts it until its IOVA is released. */
    void free(Buffer b) {
      outstanding++;
      lane.release(
          b,
          cpu,
          true,
          true,
          () -> {
            outstanding--;
            lastRelease = h.lastEvent;
          });
      blocks.remove(b);
    }

    /** When to look again: soon, or (lazy) until the flush queue has released everything. */
    long waitReleased() {
      return in(lane.lazy ? 2_000_000 : 50_000, lane.lazy ? 3_000_000 : 300_000);
    }

    /** Window of a device with {@code limitPfn}: from pfn 1 up to the limit. */
    static long windowEnd(long limitPfn) {
      return (limitPfn + 1) << 12;
    }
  }

  /**
   * ALLOC_FAILURE_FRAGMENTED: a 28-bit device (window of 256 MiB) fills its window with 63 blocks
   * of 4 MiB, frees every other one, and a request of 8 MiB then fails (no 8 MiB-aligned hole)
   * although about 132 MiB are free.
   */
  static final class Fragmented extends Filling {
    Fragmented(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.ALLOC_FAILURE_FRAGMENTED, lane, startNs);
    }

    @Override
    long step() {
      switch (phase) {
        case 0 -> {
          cpu = h.randomCpu();
          for (int i = 0; i < 63; i++) {
            if (block(10) == null) throw new IllegalStateException("window not empty");
          }
          Actors.access(h, lane, blocks.get(0).iova, 4096, true);
          phase = 1;
          return in(50_000, 500_000);
        }
        case 1 -> {
          for (Buffer b : new ArrayList<>(blocks)) if (((b.pfn >>> 10) & 1) == 1) free(b);
          phase = 2;
          return waitReleased();
        }
        case 2 -> {
          if (outstanding > 0) return waitReleased();
          long pfn = lane.allocIova(2048, cpu);
          if (pfn != IovaAllocator.FAILED) throw new IllegalStateException("did not fail");
          label(lane, 1L << 12, windowEnd(lane.dmaLimitPfn), List.of(lane.lastFailedAlloc), null);
          phase = 3;
          return in(50_000, 500_000);
        }
        case 3 -> {
          for (Buffer b : new ArrayList<>(blocks)) free(b);
          phase = 4;
          return waitReleased();
        }
        default -> {
          return outstanding > 0 ? waitReleased() : DONE;
        }
      }
    }
  }

  /**
   * IOVA32_EXHAUSTED: a 32-bit device takes the whole space below 4 GiB in blocks of 256 KiB to 256
   * MiB (largest that fits first) until no 256 KiB-aligned hole is left (63 free pages remain), and
   * its next request of 256 KiB fails.
   */
  static final class Exhausted extends Filling {
    Exhausted(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.IOVA32_EXHAUSTED, lane, startNs);
    }

    @Override
    long step() {
      switch (phase) {
        case 0 -> {
          cpu = h.randomCpu();
          FreeSpace free = new FreeSpace(1, lane.dmaLimitPfn);
          free.take(GenDomain.MSI_START >>> 12, (GenDomain.MSI_START + GenDomain.MSI_SIZE) >>> 12);
          for (int log2 = free.largestAligned(16); log2 >= 6; log2 = free.largestAligned(16)) {
            Buffer b = block(log2);
            if (b == null) throw new IllegalStateException("unexpected failure");
            free.take(b.pfn, b.pfn + b.pages);
          }
          if (free.freePages() >= 64) throw new IllegalStateException("not exhausted");
          Actors.access(h, lane, blocks.get(0).iova, 4096, true);
          phase = 1;
          return in(50_000, 500_000);
        }
        case 1 -> {
          long pfn = lane.allocIova(64, cpu);
          if (pfn != IovaAllocator.FAILED) throw new IllegalStateException("did not fail");
          label(lane, 1L << 12, windowEnd(lane.dmaLimitPfn), List.of(lane.lastFailedAlloc), null);
          phase = 2;
          return in(50_000, 500_000);
        }
        case 2 -> {
          for (Buffer b : new ArrayList<>(blocks)) free(b);
          phase = 3;
          return waitReleased();
        }
        default -> {
          return outstanding > 0 ? waitReleased() : DONE;
        }
      }
    }
  }

  /**
   * HIGH_FRAGMENTATION: a 32-bit device fills the space below 4 GiB with 62 blocks of 64 MiB and
   * frees every other one: for 200–300 ms the window's free space (about 2.1 GiB) is in holes of at
   * most 64 MiB (fragmentation index about 0.97 below the 4 GiB limit) while the device keeps using
   * the blocks it holds; then everything goes back. The label spans the fragmented period: from the
   * last free that made it to the first free that ends it.
   */
  static final class HighFragmentation extends Filling {
    long sustainUntil;
    IommuEvent fragmented;

    HighFragmentation(HostGenerator h, GenDomain lane, long startNs) {
      super(h, FindingType.HIGH_FRAGMENTATION, lane, startNs);
    }

    @Override
    long step() {
      switch (phase) {
        case 0 -> {
          cpu = h.randomCpu();
          for (int i = 0; i < 62; i++) {
            if (block(14) == null) throw new IllegalStateException("window not empty");
          }
          phase = 1;
          return in(50_000, 500_000);
        }
        case 1 -> {
          for (Buffer b : new ArrayList<>(blocks)) if (((b.pfn >>> 14) & 1) == 1) free(b);
          phase = 2;
          return waitReleased();
        }
        case 2 -> {
          if (outstanding > 0) return waitReleased();
          fragmented = lastRelease;
          sustainUntil = h.now + 200_000_000L + h.rnd.nextLong(100_000_000L);
          phase = 3;
          return in(5_000_000, 20_000_000);
        }
        case 3 -> {
          Buffer b = blocks.get(h.rnd.nextInt(blocks.size()));
          Actors.access(h, lane, b.iova + (h.rnd.nextLong(16384) << 12), 4096, h.rnd.nextBoolean());
          if (h.now < sustainUntil) return in(5_000_000, 20_000_000);
          lastRelease = null;
          Buffer first = blocks.get(0);
          outstanding++;
          lane.release(
              first,
              cpu,
              true,
              true,
              () -> {
                outstanding--;
                IommuEvent end = h.lastEvent;
                label(lane, 1L << 12, windowEnd(lane.dmaLimitPfn), List.of(fragmented, end), null);
              });
          blocks.remove(first);
          for (Buffer b2 : new ArrayList<>(blocks)) free(b2);
          phase = 4;
          return waitReleased();
        }
        default -> {
          return outstanding > 0 ? waitReleased() : DONE;
        }
      }
    }
  }

  /** Free pfn runs of a window, for planning allocations that are sure to succeed. */
  static final class FreeSpace {
    private final TreeMap<Long, Long> runs = new TreeMap<>(); // start → end (exclusive)

    FreeSpace(long first, long lastInclusive) {
      runs.put(first, lastInclusive + 1);
    }

    /** Marks {@code [lo, hi)} as used; it must be free. */
    void take(long lo, long hi) {
      Map.Entry<Long, Long> e = runs.floorEntry(lo);
      if (e == null || e.getValue() < hi) throw new IllegalStateException("not free");
      runs.remove(e.getKey());
      if (e.getKey() < lo) runs.put(e.getKey(), lo);
      if (hi < e.getValue()) runs.put(hi, e.getValue());
    }

    /** The largest k ≤ maxLog2 such that a 2^k-aligned run of 2^k pages is free; -1 if none. */
    int largestAligned(int maxLog2) {
      int best = -1;
      for (Map.Entry<Long, Long> e : runs.entrySet()) {
        for (int k = maxLog2; k > best; k--) {
          long size = 1L << k;
          long at = (e.getKey() + size - 1) & -size;
          if (at + size <= e.getValue()) {
            best = k;
            break;
          }
        }
      }
      return best;
    }

    long freePages() {
      long n = 0;
      for (Map.Entry<Long, Long> e : runs.entrySet()) n += e.getValue() - e.getKey();
      return n;
    }
  }
}
