package io.iommureplay.detect;

import io.iommureplay.model.Domain;
import io.iommureplay.model.FreedTable;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.ReservedRegions;
import io.iommureplay.model.iotlb.IotlbListener.Closure;
import io.iommureplay.model.iotlb.StaleTable;
import io.iommureplay.model.iotlb.Window;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.sva.PasidSpace;
import io.iommureplay.schema.DeviceAccess;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Severity;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The use-after-unmap detectors (SPEC "Detectors → Use-after-unmap windows under lazy flushing").
 * Every unmapped range opens a window that closes when an invalidation covers it; what happens
 * while it is open is what these report. The domain and device of a finding name the holder of the
 * stale translation; the second party is who got the page.
 */
final class UseAfterUnmapDetector implements ModelListener {
  private final String host;
  private final DetectorConfig config;
  private final Detections out;
  private final PhysicalWindows physical = new PhysicalWindows();
  private IommuModel model;

  UseAfterUnmapDetector(String host, DetectorConfig config, Detections out) {
    this.host = host;
    this.config = config;
    this.out = out;
  }

  void attach(IommuModel model) {
    this.model = model;
  }

  @Override
  public void windowOpened(IommuEvent unmap, Domain domain, Window window) {
    physical.opened(window);
  }

  @Override
  public void windowClosed(Window window, long openNs, long closeSeq, Closure cause) {
    physical.closed(window);
    if (cause == Closure.INVALIDATED && openNs > config.longWindowNs()) {
      out.add(
          start(FindingType.LONG_WINDOW, Severity.MEDIUM, window)
              .at(window.tsNs() + openNs)
              .evidence(window.seq(), closeSeq)
              .message(
                  () ->
                      "IOVA range unmapped at seq %d stayed translatable for %.1f ms before an invalidation covered it (bound %.1f ms)"
                          .formatted(window.seq(), openNs / 1e6, config.longWindowNs() / 1e6))
              .build());
    }
  }

  @Override
  public void windowPartlyFlushed(Window window, long missedBytes, long flushSeq) {
    out.add(
        start(FindingType.PARTIAL_FLUSH, Severity.HIGH, window)
            .at(window.tsNs())
            .evidence(window.seq(), flushSeq)
            .message(
                () ->
                    "the invalidation at seq %d covered only part of the range unmapped at seq %d: %d bytes stay cached"
                        .formatted(flushSeq, window.seq(), missedBytes))
            .build());
  }

  @Override
  public void staleAccess(IommuEvent access, Domain domain, Window window, long first, long last) {
    out.add(
        start(FindingType.DEVICE_ACCESS_AFTER_UNMAP, Severity.CRITICAL, window)
            .on(domain.id(), access.getDevice())
            .iova(first, last + 1)
            .at(access.getTsNs())
            .evidence(window.seq(), access.getSeq())
            .message(
                () ->
                    "%s accessed IOVA 0x%x after it was unmapped at seq %d and before any invalidation covered it"
                        .formatted(access.getDevice(), first, window.seq()))
            .build());
  }

  @Override
  public void mapped(IommuEvent event, Domain domain, Mapping map, MapResult result) {
    reusedPhysically(event, domain, map);
    reusedIova(event, domain, map.getIova(), map.getSize(), "mapped");
  }

  @Override
  public void iovaAllocated(
      IommuEvent event, Domain domain, long kernelPfn, long pages, long modelPfn) {
    reusedIova(event, domain, kernelPfn * domain.granule(), pages * domain.granule(), "allocated");
  }

  /** The physical page of an open window mapped again, anywhere on the host. */
  private void reusedPhysically(IommuEvent event, Domain domain, Mapping map) {
    String device = event.getDevice() != null ? event.getDevice() : domain.soleDevice();
    physical.forEachOverlapping(
        map.getPaddr(),
        map.getSize(),
        run -> {
          Window w = run.window();
          long physStart = Math.max(run.physStart(), map.getPaddr());
          long physEnd = Math.min(run.physEnd(), map.getPaddr() + map.getSize());
          long iova = run.iova() + (physStart - run.physStart());
          String holder = holderOf(w);
          boolean sameParty = w.domain() == domain.id() && Objects.equals(holder, device);
          // Another domain or device reaching the page through a stale entry is an exposure; the
          // same device getting its page back (two sub-page buffers in one page) is not.
          Severity severity = sameParty ? Severity.LOW : Severity.HIGH;
          out.add(
              start(FindingType.PHYS_REUSE_IN_WINDOW, severity, w)
                  .iova(iova, iova + (physEnd - physStart))
                  .phys(physStart, physEnd)
                  .at(event.getTsNs())
                  .otherParty(domain.id(), device)
                  .evidence(w.seq(), event.getSeq())
                  .message(
                      () ->
                          "physical page 0x%x, unmapped from domain %d at seq %d and not yet invalidated, was mapped again by %s in domain %d"
                              .formatted(physStart, w.domain(), w.seq(), device, domain.id()))
                  .build());
        });
  }

  /** An IOVA of an open window handed out or mapped again before its flush. */
  private void reusedIova(IommuEvent event, Domain domain, long iova, long size, String how) {
    if (model == null || size <= 0) return;
    List<Window> hits = new ArrayList<>(1);
    model.forEachOpenWindowRange(
        domain.id(),
        iova,
        size,
        (w, first, last) -> {
          if (!hits.contains(w)) hits.add(w);
        });
    for (Window w : hits) {
      out.add(
          start(FindingType.IOVA_REUSE_BEFORE_FLUSH, Severity.HIGH, w)
              .iova(Math.max(iova, w.iova()), Math.min(iova + size, w.iova() + w.size()))
              .at(event.getTsNs())
              .otherParty(domain.id(), event.getDevice())
              .evidence(w.seq(), event.getSeq())
              .message(
                  () ->
                      "IOVA 0x%x was %s again at seq %d while its unmap at seq %d was not yet invalidated"
                          .formatted(iova, how, event.getSeq(), w.seq()))
              .build());
    }
  }

  @Override
  public void detached(IommuEvent event, Domain domain, String device) {
    if (model == null) return;
    model.forEachOpenWindow(
        domain.id(),
        w -> {
          if (!w.devices().contains(device)) return;
          out.add(
              start(FindingType.DETACH_WITH_OPEN_WINDOWS, Severity.HIGH, w)
                  .on(domain.id(), device)
                  .at(event.getTsNs())
                  .evidence(w.seq(), event.getSeq())
                  .message(
                      () ->
                          "%s was detached from domain %d at seq %d while the range unmapped at seq %d was not yet invalidated"
                              .formatted(device, domain.id(), event.getSeq(), w.seq()))
                  .build());
        });
  }

  @Override
  public void tableFreed(IommuEvent at, Domain domain, FreedTable table, StaleTable stillCached) {
    if (stillCached == null) return;
    out.add(
        Detection.builder(FindingType.TABLE_FREE_BEFORE_FLUSH, Severity.HIGH)
            .host(host)
            .on(domain.id(), domain.soleDevice())
            .iova(table.spanStart(), table.spanLast() + 1)
            .at(at.getTsNs())
            .evidence(stillCached.seq(), at.getSeq())
            .message(
                () ->
                    "level-%d page-table page over IOVA 0x%x was freed at seq %d while the paging-structure cache may still hold it (no IH=0 invalidation since seq %d)"
                        .formatted(
                            table.level(), table.spanStart(), at.getSeq(), stillCached.seq()))
            .build());
  }

  @Override
  public void reservedRegionMapped(
      IommuEvent event, Domain domain, Mapping map, ReservedRegions.Region region) {
    out.add(
        Detection.builder(FindingType.RESERVED_REGION_MAPPING, Severity.HIGH)
            .host(host)
            .on(domain.id(), event.getDevice())
            .iova(map.getIova(), map.getIova() + map.getSize())
            .phys(map.getPaddr(), map.getPaddr() + map.getSize())
            .at(event.getTsNs())
            .evidence(event.getSeq())
            .message(
                () ->
                    "IOVA 0x%x was mapped to 0x%x inside the %s reserved region [0x%x, 0x%x)"
                        .formatted(
                            map.getIova(),
                            map.getPaddr(),
                            region.kind() == null ? "IOVA-reserved" : region.kind().name(),
                            region.start(),
                            region.end()))
            .build());
  }

  @Override
  public void pasidMisused(IommuEvent event, String device, int pasid, PasidSpace.Problem problem) {
    long domain = event.getDomain();
    out.add(
        Detection.builder(FindingType.PASID_USE_AFTER_EXIT, Severity.HIGH)
            .host(host)
            .on(domain, device)
            .iova(iovaOf(event), iovaOf(event) + 1)
            .at(event.getTsNs())
            .evidence(event.getSeq())
            .message(
                () ->
                    "%s used PASID %d at seq %d %s"
                        .formatted(device, pasid, event.getSeq(), describe(problem)))
            .build());
  }

  /** Windows open at the end of the trace for longer than the bound: their flush never came. */
  void finish(long endNs) {
    if (model == null) return;
    for (Domain domain : model.domains()) {
      model.forEachOpenWindow(
          domain.id(),
          w -> {
            long age = endNs - w.tsNs();
            if (age <= config.longWindowNs()) return; // a trace cut just before the next flush
            out.add(
                start(FindingType.MISSING_FLUSH, Severity.HIGH, w)
                    .at(w.tsNs())
                    .evidence(w.seq())
                    .message(
                        () ->
                            "the range unmapped at seq %d was never invalidated: still translatable %.1f ms later, at the end of the trace"
                                .formatted(w.seq(), age / 1e6))
                    .build());
          });
    }
  }

  private Detection.Builder start(FindingType type, Severity severity, Window w) {
    return Detection.builder(type, severity)
        .host(host)
        .on(w.domain(), holderOf(w))
        .iova(w.iova(), w.iova() + w.size());
  }

  /** The device of the stale translation: the one attached at the unmap, or null for several. */
  private static String holderOf(Window w) {
    return w.devices().size() == 1 ? w.devices().get(0) : null;
  }

  private static long iovaOf(IommuEvent event) {
    return event.getPayload() instanceof DeviceAccess a ? a.getIova() : 0;
  }

  private static String describe(PasidSpace.Problem problem) {
    return switch (problem) {
      case NEVER_BOUND -> "without ever being bound to it";
      case AFTER_UNBIND -> "after unbinding it";
      case AFTER_MM_EXIT -> "after its process address space exited";
      case AFTER_FREE -> "after the PASID was freed";
    };
  }
}
