package io.iommureplay.model;

import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Page-table pages an unmap unlinked, held until their release: a lazy unmap's go with its
 * flush-queue entry (reaped after a flush), a strict one's after the iotlb_sync that follows the
 * unmap (iommu_unmap → iommu_iotlb_sync → iommu_put_pages_list). Kept by freelist id: the unmap's
 * sequence number.
 */
final class HeldTables {
  private final Map<Long, List<FreedTable>> byFreelist = new HashMap<>();

  /** Strict freelists per domain, released by the domain's next invalidation. */
  private final Map<Long, List<Long>> awaitingFlush = new HashMap<>();

  /** Holds {@code tables}; returns their freelist id, or {@code none} when there are none. */
  long hold(long freelist, List<FreedTable> tables, long none) {
    if (tables.isEmpty()) return none;
    byFreelist.put(freelist, List.copyOf(tables));
    return freelist;
  }

  void awaitFlush(long domain, long freelist) {
    awaitingFlush.computeIfAbsent(domain, d -> new ArrayList<>(2)).add(freelist);
  }

  /** The tables of a freelist, now released (empty when unknown). */
  List<FreedTable> release(long freelist) {
    List<FreedTable> tables = byFreelist.remove(freelist);
    return tables == null ? List.of() : tables;
  }

  /** The strict freelists of {@code domain} an invalidation now releases. */
  List<Long> flushed(long domain) {
    List<Long> freelists = awaitingFlush.remove(domain);
    return freelists == null ? List.of() : freelists;
  }

  /** Freelists in id order (the maps' own order is not stable), each list in release order. */
  void save(SnapshotOutput out) {
    out.writeVarInt(byFreelist.size());
    new TreeMap<>(byFreelist)
        .forEach(
            (freelist, tables) -> {
              out.writeSignedVarLong(freelist).writeVarInt(tables.size());
              tables.forEach(t -> t.save(out));
            });
    out.writeVarInt(awaitingFlush.size());
    new TreeMap<>(awaitingFlush)
        .forEach(
            (domain, freelists) -> {
              out.writeVarLong(domain).writeVarInt(freelists.size());
              freelists.forEach(out::writeSignedVarLong);
            });
  }

  void restore(SnapshotInput in) {
    for (int n = in.readCount(); n > 0; n--) {
      long freelist = in.readSignedVarLong();
      List<FreedTable> tables = new ArrayList<>();
      for (int i = in.readCount(); i > 0; i--) tables.add(FreedTable.restore(in));
      byFreelist.put(freelist, List.copyOf(tables));
    }
    for (int n = in.readCount(); n > 0; n--) {
      long domain = in.readVarLong();
      for (int i = in.readCount(); i > 0; i--) awaitFlush(domain, in.readSignedVarLong());
    }
  }
}
