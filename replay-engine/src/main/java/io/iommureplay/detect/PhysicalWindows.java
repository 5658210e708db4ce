package io.iommureplay.detect;

import io.iommureplay.model.iotlb.Window;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The physical pages that open use-after-unmap windows still reach, across every domain of a host:
 * the driver got such a page back when dma_unmap returned, so the page allocator may hand it to
 * anyone while a stale IOTLB entry still points a device at it (PHYS_REUSE_IN_WINDOW).
 */
final class PhysicalWindows {
  /** A physically contiguous run of a window: {@code [physStart, physEnd)} was {@code iova...}. */
  record Run(long physStart, long physEnd, long iova, Window window) {}

  /**
   * Runs up to this long are found by where they start, looking this far below an address; the few
   * longer ones are kept apart, so one large window does not widen every lookup (this runs on every
   * map).
   */
  private static final long SHORT_RUN = 1 << 16;

  private final NavigableMap<Long, List<Run>> shortRuns = new TreeMap<>();
  private final NavigableMap<Long, List<Run>> longRuns = new TreeMap<>();
  private final Map<Window, List<Run>> byWindow = new IdentityHashMap<>();

  void opened(Window window) {
    List<Run> runs = new ArrayList<>(1);
    window.forEachPhysRun(
        (iova, paddr, size) -> {
          if (paddr == Window.NO_PADDR) return;
          Run run = new Run(paddr, paddr + size, iova, window);
          runs.add(run);
          index(run).computeIfAbsent(paddr, p -> new ArrayList<>(1)).add(run);
        });
    if (!runs.isEmpty()) byWindow.put(window, runs);
  }

  void closed(Window window) {
    List<Run> runs = byWindow.remove(window);
    if (runs == null) return;
    for (Run run : runs) {
      NavigableMap<Long, List<Run>> index = index(run);
      List<Run> at = index.get(run.physStart());
      at.remove(run);
      if (at.isEmpty()) index.remove(run.physStart());
    }
  }

  /** Every run of an open window that overlaps {@code [phys, phys + size)}. */
  void forEachOverlapping(long phys, long size, Consumer<Run> action) {
    long end = phys + size;
    overlapping(shortRuns.subMap(phys - SHORT_RUN, false, end, false), phys, action);
    if (!longRuns.isEmpty()) overlapping(longRuns.headMap(end, false), phys, action);
  }

  private static void overlapping(
      Map<Long, List<Run>> candidates, long phys, Consumer<Run> action) {
    for (List<Run> runs : candidates.values()) {
      for (Run run : runs) {
        if (run.physEnd() > phys) action.accept(run);
      }
    }
  }

  private NavigableMap<Long, List<Run>> index(Run run) {
    return run.physEnd() - run.physStart() <= SHORT_RUN ? shortRuns : longRuns;
  }
}
