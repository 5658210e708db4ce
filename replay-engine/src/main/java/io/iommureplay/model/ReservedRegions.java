package io.iommureplay.model;

import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.schema.ReservedRegionKind;
import java.util.Map;
import java.util.TreeMap;

/**
 * The reserved IOVA regions of one domain (struct iommu_resv_region of its devices, and the ranges
 * dma-iommu reserves in its IOVA space: iova_reserve_iommu_regions() takes every region but SW_MSI,
 * plus the PCI host bridge windows). A DMA domain never maps into them, except a DIRECT region
 * mapped 1:1 (iommu_create_device_direct_mappings()).
 */
public final class ReservedRegions {
  /**
   * A reserved range; {@code kind} is null where the trace says only that the IOVA was reserved.
   */
  public record Region(long start, long end, ReservedRegionKind kind) {
    /** Whether mapping {@code [iova, iova+size)} to {@code paddr} inside this region is allowed. */
    boolean allows(long iova, long paddr) {
      boolean identity = iova == paddr;
      if (kind == null)
        return identity; // an IOVA reservation: only the 1:1 direct mappings land there
      return switch (kind) {
        case DIRECT, DIRECT_RELAXABLE -> identity;
        case SW_MSI ->
            true; // the MSI cookie maps doorbells here on demand (iommu_dma_get_msi_page)
        case RESERVED, MSI -> false;
      };
    }
  }

  private final TreeMap<Long, Region> byStart = new TreeMap<>();

  void add(long start, long size, ReservedRegionKind kind) {
    Region existing = byStart.get(start);
    // A typed region wins over a bare IOVA reservation of the same range.
    if (existing == null || existing.kind() == null)
      byStart.put(start, new Region(start, start + size, kind));
  }

  /**
   * The first region that forbids mapping {@code [iova, iova + size)} to {@code paddr}, or null.
   */
  public Region forbidding(long iova, long size, long paddr) {
    if (byStart.isEmpty()) return null;
    // Walked entry by entry: on every map, where a sub-map view would allocate.
    Map.Entry<Long, Region> e = byStart.floorEntry(iova);
    if (e == null || e.getValue().end() <= iova) e = byStart.higherEntry(iova);
    for (; e != null && e.getKey() < iova + size; e = byStart.higherEntry(e.getKey())) {
      if (!e.getValue().allows(iova, paddr)) return e.getValue();
    }
    return null;
  }

  public boolean isEmpty() {
    return byStart.isEmpty();
  }

  void save(SnapshotOutput out) {
    out.writeVarInt(byStart.size());
    for (Region r : byStart.values()) {
      out.writeLong(r.start()).writeLong(r.end()).writeBoolean(r.kind() != null);
      if (r.kind() != null) out.writeEnum(r.kind());
    }
  }

  void restore(SnapshotInput in) {
    byStart.clear();
    for (int i = in.readCount(); i > 0; i--) {
      long start = in.readLong();
      long end = in.readLong();
      ReservedRegionKind kind = in.readBoolean() ? in.readEnum(ReservedRegionKind.class) : null;
      byStart.put(start, new Region(start, end, kind));
    }
  }
}
