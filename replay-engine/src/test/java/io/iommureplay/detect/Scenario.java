package io.iommureplay.detect;

import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceAccess;
import io.iommureplay.schema.DeviceBinding;
import io.iommureplay.schema.DomainLifecycle;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaPath;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.PageTableFormat;
import io.iommureplay.schema.PasidOp;
import io.iommureplay.schema.ReservedRegion;
import io.iommureplay.schema.ReservedRegionKind;
import io.iommureplay.schema.TableFreeMode;
import io.iommureplay.schema.TablePage;
import io.iommureplay.schema.TableWalk;
import io.iommureplay.schema.Unmapping;
import java.util.ArrayList;
import java.util.List;

/** A hand-built event sequence of one host, replayed through the model and the detectors. */
final class Scenario {
  static final String HOST = "h";
  private final List<IommuEvent> events = new ArrayList<>();
  private long seq;
  private long now;

  /** Moves time forward by {@code ns}. */
  Scenario after(long ns) {
    now += ns;
    return this;
  }

  Scenario domain(long domain, String device, boolean lazy) {
    add(
        EventType.DOMAIN_ALLOC,
        0,
        domain,
        device,
        new DomainLifecycle(
            lazy ? DomainType.DMA_FQ : DomainType.DMA, PageTableFormat.VTD_SECOND_STAGE, 48, null));
    add(EventType.ATTACH, 0, domain, device, new DeviceBinding(null));
    return add(
        EventType.IOVA_DOMAIN_INIT, 0, domain, device, new IovaDomainInit(4096L, 1L, null, null));
  }

  Scenario map(int cpu, long domain, String device, long iova, long size, long paddr) {
    return mapTaking(cpu, domain, device, iova, size, paddr, null);
  }

  Scenario mapTaking(
      int cpu, long domain, String device, long iova, long size, long paddr, Long durationNs) {
    return add(EventType.MAP, cpu, domain, device, new Mapping(iova, size, paddr, 3, durationNs));
  }

  Scenario unmap(int cpu, long domain, String device, long iova, long size) {
    return unmapTaking(cpu, domain, device, iova, size, null);
  }

  Scenario unmapTaking(int cpu, long domain, String device, long iova, long size, Long durationNs) {
    return add(EventType.UNMAP, cpu, domain, device, new Unmapping(iova, size, size, durationNs));
  }

  Scenario alloc(int cpu, long domain, String device, long pfn, long pages, long limitPfn) {
    return add(
        EventType.IOVA_ALLOC,
        cpu,
        domain,
        device,
        new IovaAllocation(IovaPath.FAST, pages, limitPfn, pfn, null, true, false));
  }

  Scenario failedAlloc(int cpu, long domain, String device, long pages, long limitPfn) {
    return add(
        EventType.IOVA_ALLOC,
        cpu,
        domain,
        device,
        new IovaAllocation(IovaPath.FAST, pages, limitPfn, null, null, true, false));
  }

  Scenario free(int cpu, long domain, long pfn, long pages) {
    return add(EventType.IOVA_FREE, cpu, domain, null, new IovaFree(IovaPath.FAST, pfn, pages));
  }

  Scenario enqueue(int cpu, long domain, long iova, long size) {
    return add(
        EventType.FQ_ENQUEUE,
        cpu,
        domain,
        null,
        new FlushQueueOp(iova, size, null, null, FlushTrigger.UNKNOWN));
  }

  /** A flush-queue timer flush of a lazy domain: fq_flush_iotlb, then the domain invalidation. */
  Scenario timerFlush(int cpu, long domain) {
    add(
        EventType.FQ_FLUSH,
        cpu,
        domain,
        null,
        new FlushQueueOp(null, null, null, null, FlushTrigger.FQ_TIMER));
    return flush(cpu, domain, invalidation(FlushScope.DOMAIN, 0, 0, false, FlushTrigger.FQ_TIMER));
  }

  /** The page-selective flush a strict unmap issues. */
  Scenario syncFlush(int cpu, long domain, long iova, long size, boolean leafOnly) {
    return flush(
        cpu, domain, invalidation(FlushScope.PAGE, iova, size, leafOnly, FlushTrigger.SYNC));
  }

  Scenario flush(int cpu, long domain, IotlbInvalidation invalidation) {
    return add(EventType.IOTLB_FLUSH, cpu, domain, null, invalidation);
  }

  static IotlbInvalidation invalidation(
      FlushScope scope, long iova, long size, boolean leafOnly, FlushTrigger trigger) {
    int am = size == 0 ? -1 : Long.numberOfTrailingZeros(size) - 12;
    return new IotlbInvalidation(
        scope, iova, size, am, leafOnly, null, null, null, null, trigger, List.of());
  }

  Scenario access(int cpu, long domain, String device, long iova, long size, Integer pasid) {
    return add(
        EventType.DEVICE_ACCESS, cpu, domain, device, new DeviceAccess(iova, size, true, pasid));
  }

  Scenario detach(long domain, String device) {
    return add(EventType.DETACH, 0, domain, device, new DeviceBinding(null));
  }

  Scenario reserved(long domain, String device, ReservedRegionKind kind, long start, long size) {
    return add(EventType.RESERVED_REGION, 0, domain, device, new ReservedRegion(kind, start, size));
  }

  Scenario pasid(EventType type, String device, int pasid, long mm) {
    return add(type, 0, -1, device, new PasidOp(pasid, mm));
  }

  Scenario table(
      EventType type,
      int cpu,
      long domain,
      int level,
      long iova,
      long size,
      long address,
      TableFreeMode mode) {
    return add(type, cpu, domain, null, new TablePage(level, iova, size, address, mode));
  }

  Scenario walk(int cpu, long domain, long iova, long size, long durationNs) {
    return add(
        EventType.PGTABLE_WALK,
        cpu,
        domain,
        null,
        new TableWalk("debugfs", iova, size, now + durationNs));
  }

  /** The seq the next event will get. */
  long nextSeq() {
    return seq + 1;
  }

  private Scenario add(EventType type, int cpu, long domain, String device, Object payload) {
    events.add(
        new IommuEvent(
            HOST, ++seq, now, cpu, type, "", domain, device, Attribution.TRACE, payload));
    now += 1000;
    return this;
  }

  List<IommuEvent> events() {
    return events;
  }

  /** Replays the scenario; returns the findings. */
  List<Finding> findings(ModelConfig config, DetectorConfig detectors) {
    List<Finding> findings = new ArrayList<>();
    FindingPipeline pipeline = new FindingPipeline(HOST, detectors, findings::add);
    IommuModel model = new IommuModel(config, pipeline.listener());
    pipeline.attach(model);
    for (IommuEvent e : events) {
      pipeline.beforeEvent(e);
      model.apply(e);
    }
    pipeline.finish();
    return findings;
  }

  List<Finding> findings() {
    return findings(
        ModelConfig.defaults().withFlushQueue(ModelConfig.defaults().flushQueue(), 4),
        DetectorConfig.DEFAULTS);
  }
}
