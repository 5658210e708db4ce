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
import java.util.List;

/** Combines listeners: each callback goes to all of them, in the order given. */
public final class ModelListeners {
  private ModelListeners() {}

  public static ModelListener all(ModelListener... listeners) {
    List<ModelListener> all = List.of(listeners);
    return new ModelListener() {
      @Override
      public void mapped(IommuEvent event, Domain domain, Mapping map, MapResult result) {
        all.forEach(l -> l.mapped(event, domain, map, result));
      }

      @Override
      public void unmapped(IommuEvent event, Domain domain, Unmapping unmap, UnmapResult result) {
        all.forEach(l -> l.unmapped(event, domain, unmap, result));
      }

      @Override
      public void windowOpened(IommuEvent unmap, Domain domain, Window window) {
        all.forEach(l -> l.windowOpened(unmap, domain, window));
      }

      @Override
      public void windowClosed(
          Window window, long openNs, long closeSeq, IotlbListener.Closure cause) {
        all.forEach(l -> l.windowClosed(window, openNs, closeSeq, cause));
      }

      @Override
      public void windowPartlyFlushed(Window window, long missedBytes, long flushSeq) {
        all.forEach(l -> l.windowPartlyFlushed(window, missedBytes, flushSeq));
      }

      @Override
      public void tableFlushed(StaleTable table, long cachedNs, long flushSeq) {
        all.forEach(l -> l.tableFlushed(table, cachedNs, flushSeq));
      }

      @Override
      public void staleAccess(
          IommuEvent access, Domain domain, Window window, long first, long last) {
        all.forEach(l -> l.staleAccess(access, domain, window, first, last));
      }

      @Override
      public void flushed(IommuEvent flush, Domain domain, IotlbInvalidation invalidation) {
        all.forEach(l -> l.flushed(flush, domain, invalidation));
      }

      @Override
      public void detached(IommuEvent event, Domain domain, String device) {
        all.forEach(l -> l.detached(event, domain, device));
      }

      @Override
      public void tableFreed(
          IommuEvent at, Domain domain, FreedTable table, StaleTable stillCached) {
        all.forEach(l -> l.tableFreed(at, domain, table, stillCached));
      }

      @Override
      public void iovaAllocated(
          IommuEvent event, Domain domain, long kernelPfn, long pages, long modelPfn) {
        all.forEach(l -> l.iovaAllocated(event, domain, kernelPfn, pages, modelPfn));
      }

      @Override
      public void iovaAllocationFailed(IommuEvent event, Domain domain, long pages, long limitPfn) {
        all.forEach(l -> l.iovaAllocationFailed(event, domain, pages, limitPfn));
      }

      @Override
      public void iovaReleased(IommuEvent at, Domain domain, long pfn, long pages) {
        all.forEach(l -> l.iovaReleased(at, domain, pfn, pages));
      }

      @Override
      public void reservedRegionMapped(
          IommuEvent event, Domain domain, Mapping map, ReservedRegions.Region region) {
        all.forEach(l -> l.reservedRegionMapped(event, domain, map, region));
      }

      @Override
      public void pasidMisused(
          IommuEvent event, String device, int pasid, PasidSpace.Problem problem) {
        all.forEach(l -> l.pasidMisused(event, device, pasid, problem));
      }

      @Override
      public void pasidBound(IommuEvent event, String device, int pasid, boolean allocated) {
        all.forEach(l -> l.pasidBound(event, device, pasid, allocated));
      }

      @Override
      public void notApplied(IommuEvent event, String reason) {
        all.forEach(l -> l.notApplied(event, reason));
      }
    };
  }
}
