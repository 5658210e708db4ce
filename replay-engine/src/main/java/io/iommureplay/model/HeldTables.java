package io.iommureplay.model;

import io.iommureplay.model.pagetable.TablePage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Page-table pages an unmap unlinked, held until their release: a lazy unmap's go with its
 * flush-queue entry (reaped after a flush), a strict one's after the iotlb_sync that follows the
 * unmap (iommu_unmap → iommu_iotlb_sync → iommu_put_pages_list). Kept by freelist id: the unmap's
 * sequence number.
 */
final class HeldTables {
  private final Map<Long, List<TablePage>> byFreelist = new HashMap<>();

  /** Strict freelists per domain, released by the domain's next invalidation. */
  private final Map<Long, List<Long>> awaitingFlush = new HashMap<>();

  /** Holds {@code tables}; returns their freelist id, or {@code none} when there are none. */
  long hold(long freelist, List<TablePage> tables, long none) {
    if (tables.isEmpty()) return none;
    byFreelist.put(freelist, List.copyOf(tables));
    return freelist;
  }

  void awaitFlush(long domain, long freelist) {
    awaitingFlush.computeIfAbsent(domain, d -> new ArrayList<>(2)).add(freelist);
  }

  /** The tables of a freelist, now released (empty when unknown). */
  List<TablePage> release(long freelist) {
    List<TablePage> tables = byFreelist.remove(freelist);
    return tables == null ? List.of() : tables;
  }

  /** The strict freelists of {@code domain} an invalidation now releases. */
  List<Long> flushed(long domain) {
    List<Long> freelists = awaitingFlush.remove(domain);
    return freelists == null ? List.of() : freelists;
  }
}
