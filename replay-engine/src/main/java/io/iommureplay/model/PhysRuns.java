package io.iommureplay.model;

import io.iommureplay.model.pagetable.IoPageTable;
import java.util.Arrays;

/**
 * The physically contiguous runs of a range about to be unmapped, as (iova, paddr) pairs: a
 * use-after-unmap window must know which physical pages its stale translations reach. Reused from
 * unmap to unmap.
 */
final class PhysRuns {
  private long[] pairs = new long[16];
  private int length;
  private long end;

  /** Collects the mapped parts of {@code [iova, iova + size)}, clipped to it; holes are skipped. */
  void collect(IoPageTable table, long iova, long size) {
    length = 0;
    long rangeEnd = iova + size;
    table.forEachMapping(
        iova,
        size,
        (mapIova, paddr, mapSize, prot) -> {
          long from = Math.max(mapIova, iova);
          long to = Math.min(mapIova + mapSize, rangeEnd);
          long runPaddr = paddr + (from - mapIova);
          if (length > 0
              && from == end
              && runPaddr == pairs[length - 1] + (from - pairs[length - 2])) {
            end = to; // continues the previous run, virtually and physically
            return;
          }
          if (length == pairs.length) pairs = Arrays.copyOf(pairs, length * 2);
          pairs[length++] = from;
          pairs[length++] = runPaddr;
          end = to;
        });
  }

  boolean isEmpty() {
    return length == 0;
  }

  long firstIova() {
    return pairs[0];
  }

  /** From the first mapped byte to the end of the last run. */
  long span() {
    return end - pairs[0];
  }

  long[] toArray() {
    return Arrays.copyOf(pairs, length);
  }
}
