package io.iommureplay.model;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Unmapping;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Unmaps the importer could not attribute to a domain, kept (the most recent {@link #CAPACITY})
 * until a later map shows which domain they belonged to. Oldest first out when full: an unmap that
 * old was not followed by a map of its range, so nothing depends on it.
 */
final class OrphanUnmaps {
  static final int CAPACITY = 4096;

  /** Longest unmap looked back for: 1 GiB, the largest page of the formats modelled. */
  static final long MAX_SPAN = 1L << 30;

  record Orphan(IommuEvent event, Unmapping unmap) {}

  /** Kept unmaps by IOVA; several domains may each have lost an unmap of the same IOVA. */
  private final TreeMap<Long, List<Orphan>> byIova = new TreeMap<>();

  private final ArrayDeque<Orphan> byAge = new ArrayDeque<>();
  private Consumer<Orphan> onEvict = o -> {};

  boolean isEmpty() {
    return byAge.isEmpty();
  }

  void add(IommuEvent event, Unmapping unmap) {
    Orphan orphan = new Orphan(event, unmap);
    byIova.computeIfAbsent(unmap.getIova(), i -> new ArrayList<>(1)).add(orphan);
    byAge.addLast(orphan);
    if (byAge.size() > CAPACITY) {
      Orphan oldest = byAge.pollFirst();
      forget(oldest);
      onEvict.accept(oldest);
    }
  }

  /** Whether a kept unmap overlaps {@code [iova, iova + size)}. */
  boolean overlaps(long iova, long size) {
    return find(iova, size, o -> true) != null;
  }

  /**
   * Removes and returns the oldest kept unmap that overlaps {@code [iova, iova + size)} and that
   * {@code belongs} accepts, or null.
   */
  Orphan take(long iova, long size, Predicate<Orphan> belongs) {
    Orphan o = find(iova, size, belongs);
    if (o != null) {
      forget(o);
      byAge.remove(o);
    }
    return o;
  }

  private Orphan find(long iova, long size, Predicate<Orphan> belongs) {
    // Orphans start at most MAX_SPAN below iova: dma-iommu unmaps are single mappings.
    for (List<Orphan> list : byIova.subMap(iova - MAX_SPAN, false, iova + size, false).values()) {
      for (Orphan o : list) {
        Unmapping u = o.unmap();
        if (u.getIova() + u.getSize() > iova && belongs.test(o)) return o;
      }
    }
    return null;
  }

  private void forget(Orphan orphan) {
    List<Orphan> list = byIova.get(orphan.unmap().getIova());
    list.remove(orphan);
    if (list.isEmpty()) byIova.remove(orphan.unmap().getIova());
  }

  /** Where orphans go that are pushed out. */
  void onEvict(Consumer<Orphan> sink) {
    onEvict = sink;
  }

  /**
   * Writes the kept unmaps oldest first, each with every field of its event: the listener is handed
   * them again when they are adopted or given up.
   */
  void save(SnapshotOutput out) {
    out.writeVarInt(byAge.size());
    for (Orphan o : byAge) {
      IommuEvent e = o.event();
      Unmapping u = o.unmap();
      out.writeString(e.getHost())
          .writeVarLong(e.getSeq())
          .writeSignedVarLong(e.getTsNs())
          .writeSignedVarLong(e.getCpu())
          .writeString(e.getSource())
          .writeSignedVarLong(e.getDomain())
          .writeString(e.getDevice())
          .writeEnum(e.getAttribution())
          .writeLong(u.getIova())
          .writeVarLong(u.getSize())
          .writeVarLong(u.getUnmappedSize())
          .writeBoolean(u.getDurationNs() != null);
      if (u.getDurationNs() != null) out.writeVarLong(u.getDurationNs());
    }
  }

  /** Reads what {@link #save} wrote into an empty instance. */
  void restore(SnapshotInput in) {
    int n = in.readCount();
    if (n > CAPACITY) throw new SnapshotFormatException(n + " orphan unmaps, at most " + CAPACITY);
    for (; n > 0; n--) {
      IommuEvent.Builder e =
          IommuEvent.newBuilder()
              .setType(EventType.UNMAP)
              .setHost(in.readString())
              .setSeq(in.readVarLong())
              .setTsNs(in.readSignedVarLong())
              .setCpu((int) in.readSignedVarLong())
              .setSource(in.readString())
              .setDomain(in.readSignedVarLong())
              .setDevice(in.readString())
              .setAttribution(in.readEnum(Attribution.class));
      Unmapping u =
          new Unmapping(
              in.readLong(),
              in.readVarLong(),
              in.readVarLong(),
              in.readBoolean() ? in.readVarLong() : null);
      add(e.setPayload(u).build(), u);
    }
  }

  /** Hands every kept orphan to {@code sink}, oldest first, and forgets them. */
  void drain(Consumer<Orphan> sink) {
    byAge.forEach(sink);
    byAge.clear();
    byIova.clear();
  }
}
