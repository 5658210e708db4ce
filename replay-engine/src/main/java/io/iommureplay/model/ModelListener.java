package io.iommureplay.model;

import io.iommureplay.model.iotlb.IotlbListener;
import io.iommureplay.model.iotlb.StaleTable;
import io.iommureplay.model.iotlb.Window;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.sva.PasidSpace;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
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

  /**
   * An unmap opened a use-after-unmap window: the range's translations may stay cached until an
   * invalidation covers them. {@code window} holds the range, the physical pages it pointed to and
   * the devices that may still use it.
   */
  default void windowOpened(IommuEvent unmap, Domain domain, Window window) {}

  /**
   * A window closed: invalidated (by the event {@code closeSeq}), evicted, or its domain went away.
   */
  default void windowClosed(
      Window window, long openNs, long closeSeq, IotlbListener.Closure cause) {}

  /** An invalidation covered only part of a window: {@code missedBytes} of it stay cached. */
  default void windowPartlyFlushed(Window window, long missedBytes, long flushSeq) {}

  /** A freed table page's paging-structure-cache entries were dropped (an IH=0 invalidation). */
  default void tableFlushed(StaleTable table, long cachedNs, long flushSeq) {}

  /**
   * A device accessed IOVAs whose translation may still be cached after their unmap: a confirmed
   * use-after-unmap ({@code [first, last]} of {@code window}).
   */
  default void staleAccess(
      IommuEvent access, Domain domain, Window window, long first, long last) {}

  /** An invalidation was applied ({@code domain} null for global ones). */
  default void flushed(IommuEvent flush, Domain domain, IotlbInvalidation invalidation) {}

  /** A device was detached from {@code domain}; its open windows are still there to look at. */
  default void detached(IommuEvent event, Domain domain, String device) {}

  /**
   * A page-table page went back to the page allocator. {@code stillCached} is non-null when no
   * invalidation with IH=0 covered its span since it was unlinked: the IOMMU may still walk it
   * through its paging-structure caches (TABLE_FREE_BEFORE_FLUSH).
   */
  default void tableFreed(IommuEvent at, Domain domain, FreedTable table, StaleTable stillCached) {}

  /**
   * The kernel allocated IOVA {@code kernelPfn} (pages of the domain's granule); {@code modelPfn}
   * is what the allocator model chose (they differ where the model disagreed; -1 failed).
   */
  default void iovaAllocated(
      IommuEvent event, Domain domain, long kernelPfn, long pages, long modelPfn) {}

  /**
   * The kernel's IOVA allocation failed (alloc_iova_fast returned 0): {@code pages} below {@code
   * limitPfn}. The domain's allocator model holds the state it failed in.
   */
  default void iovaAllocationFailed(IommuEvent event, Domain domain, long pages, long limitPfn) {}

  /** A lazy domain's flush queue released an IOVA range after the flush that covers it. */
  default void iovaReleased(IommuEvent at, Domain domain, long pfn, long pages) {}

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
