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

  private final NavigableMap<Long, List<Run>> byPhysStart = new TreeMap<>();
  private final Map<Window, List<Run>> byWindow = new IdentityHashMap<>();

  /** The longest run kept: how far below an address a run reaching it may start. */
  private long longestRun;

  void opened(Window window) {
    List<Run> runs = new ArrayList<>(1);
    window.forEachPhysRun(
        (iova, paddr, size) -> {
          if (paddr == Window.NO_PADDR) return;
          Run run = new Run(paddr, paddr + size, iova, window);
          runs.add(run);
          byPhysStart.computeIfAbsent(paddr, p -> new ArrayList<>(1)).add(run);
          longestRun = Math.max(longestRun, size);
        });
    if (!runs.isEmpty()) byWindow.put(window, runs);
  }

  void closed(Window window) {
    List<Run> runs = byWindow.remove(window);
    if (runs == null) return;
    for (Run run : runs) {
      List<Run> at = byPhysStart.get(run.physStart());
      at.remove(run);
      if (at.isEmpty()) byPhysStart.remove(run.physStart());
    }
  }

  /** Every run of an open window that overlaps {@code [phys, phys + size)}. */
  void forEachOverlapping(long phys, long size, Consumer<Run> action) {
    long end = phys + size;
    for (List<Run> runs : byPhysStart.subMap(phys - longestRun, false, end, false).values()) {
      for (Run run : runs) {
        if (run.physEnd() > phys) action.accept(run);
      }
    }
  }

  int openWindows() {
    return byWindow.size();
  }
}
