package io.iommureplay.model;

import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.sva.PasidSpace;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Unmapping;

/**
 * What the model tells the detectors as it replays, so they never reach into its internals. Every
 * method has an empty default: a detector overrides what it needs.
 */
public interface ModelListener {
  ModelListener NONE = new ModelListener() {};

  /** An IOMMU map was applied to a domain's page table. */
  default void mapped(IommuEvent event, Domain domain, Mapping map, MapResult result) {}

  /** An IOMMU unmap was applied to a domain's page table. */
  default void unmapped(IommuEvent event, Domain domain, Unmapping unmap, UnmapResult result) {}

  /** A map into a reserved region that forbids it (a DMA domain maps only DIRECT regions, 1:1). */
  default void reservedRegionMapped(
      IommuEvent event, Domain domain, Mapping map, ReservedRegions.Region region) {}

  /** A device used a PASID it may not use now (DEVICE_ACCESS or IO_PAGE_FAULT carrying a PASID). */
  default void pasidMisused(
      IommuEvent event, String device, int pasid, PasidSpace.Problem problem) {}

  /** A PASID was bound to a device; {@code allocated} when the mm got the PASID with this bind. */
  default void pasidBound(IommuEvent event, String device, int pasid, boolean allocated) {}

  /**
   * An event the model could not apply: its domain is unknown (the importer could not attribute it)
   * or its values are impossible. Counted, never silently dropped.
   */
  default void notApplied(IommuEvent event, String reason) {}
}
