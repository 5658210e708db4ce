package io.iommureplay.importer;

import java.util.HashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * Which IOVA ranges each domain has mapped right now, as far as the attributed map and unmap lines
 * tell. It names the domain of an unmap whose kprobe context was lost: dma-iommu unmaps exactly
 * what one DMA mapping mapped, starting at its first map line's IOVA. Memory grows with the live
 * mappings, not with the trace.
 */
final class LiveMappings {
  private final Map<Long, NavigableMap<Long, Long>> startsByDomain = new HashMap<>();

  void mapped(long domain, long iova, long size) {
    startsByDomain.computeIfAbsent(domain, d -> new TreeMap<>()).put(iova, iova + size);
  }

  void unmapped(long domain, long iova, long size) {
    NavigableMap<Long, Long> starts = startsByDomain.get(domain);
    if (starts == null) return;
    // %zu sizes may exceed a signed long: a range that wraps past the top ends there.
    long end = iova + size;
    (end >= iova ? starts.subMap(iova, true, end, false) : starts.tailMap(iova, true)).clear();
  }

  /**
   * The one domain with a live mapping that starts at {@code iova}; -1 when none or several have
   * one.
   */
  long soleDomainMappedAt(long iova) {
    long found = -1;
    for (Map.Entry<Long, NavigableMap<Long, Long>> e : startsByDomain.entrySet()) {
      if (!e.getValue().containsKey(iova)) continue;
      if (found >= 0) return -1;
      found = e.getKey();
    }
    return found;
  }
}
