package io.iommureplay.model;

import io.iommureplay.model.iotlb.IotlbListener.Closure;
import io.iommureplay.model.iotlb.StaleTable;
import io.iommureplay.model.iotlb.Window;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.sva.PasidSpace;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Unmapping;
import java.util.ArrayList;
import java.util.List;

/**
 * Records every listener call as one line: the callback and its arguments, rendered when called
 * (windows change afterwards). Two models that saw the same events must log the same lines.
 */
final class CallLog implements ModelListener {
  final List<String> calls = new ArrayList<>();

  /** Off: calls are not rendered (a model replaying up to where it is snapshotted). */
  boolean recording = true;

  private void log(String callback, Object... args) {
    if (!recording) return;
    StringBuilder line = new StringBuilder(callback);
    for (Object arg : args) line.append(' ').append(render(arg));
    calls.add(line.toString());
  }

  private static String render(Object arg) {
    if (arg instanceof Domain d)
      return "Domain[" + d.id() + " " + d.type() + " " + d.devices() + "]";
    if (arg instanceof Window w)
      return w + "[cpu=" + w.cpu() + " ts=" + w.tsNs() + " devices=" + w.devices() + "]";
    return String.valueOf(arg);
  }

  @Override
  public void mapped(IommuEvent event, Domain domain, Mapping map, MapResult result) {
    log("mapped", event, domain, map, result);
  }

  @Override
  public void unmapped(IommuEvent event, Domain domain, Unmapping unmap, UnmapResult result) {
    log("unmapped", event, domain, unmap, result);
  }

  @Override
  public void windowOpened(IommuEvent unmap, Domain domain, Window window) {
    log("windowOpened", unmap, domain, window);
  }

  @Override
  public void windowClosed(Window window, long openNs, long closeSeq, Closure cause) {
    log("windowClosed", window, openNs, closeSeq, cause);
  }

  @Override
  public void windowPartlyFlushed(Window window, long missedBytes, long flushSeq) {
    log("windowPartlyFlushed", window, missedBytes, flushSeq);
  }

  @Override
  public void tableFlushed(StaleTable table, long cachedNs, long flushSeq) {
    log("tableFlushed", table, cachedNs, flushSeq);
  }

  @Override
  public void staleAccess(IommuEvent access, Domain domain, Window window, long first, long last) {
    log("staleAccess", access, domain, window, first, last);
  }

  @Override
  public void flushed(IommuEvent flush, Domain domain, IotlbInvalidation invalidation) {
    log("flushed", flush, domain, invalidation);
  }

  @Override
  public void detached(IommuEvent event, Domain domain, String device) {
    log("detached", event, domain, device);
  }

  @Override
  public void tableFreed(IommuEvent at, Domain domain, FreedTable table, StaleTable stillCached) {
    log("tableFreed", at, domain, table, stillCached);
  }

  @Override
  public void iovaAllocated(
      IommuEvent event, Domain domain, long kernelPfn, long pages, long modelPfn) {
    log("iovaAllocated", event, domain, kernelPfn, pages, modelPfn);
  }

  @Override
  public void iovaReleased(IommuEvent at, Domain domain, long pfn, long pages) {
    log("iovaReleased", at, domain, pfn, pages);
  }

  @Override
  public void reservedRegionMapped(
      IommuEvent event, Domain domain, Mapping map, ReservedRegions.Region region) {
    log("reservedRegionMapped", event, domain, map, region);
  }

  @Override
  public void pasidMisused(IommuEvent event, String device, int pasid, PasidSpace.Problem problem) {
    log("pasidMisused", event, device, pasid, problem);
  }

  @Override
  public void pasidBound(IommuEvent event, String device, int pasid, boolean allocated) {
    log("pasidBound", event, device, pasid, allocated);
  }

  @Override
  public void notApplied(IommuEvent event, String reason) {
    log("notApplied", event, reason);
  }
}
