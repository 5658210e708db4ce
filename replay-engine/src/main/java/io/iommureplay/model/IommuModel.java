package io.iommureplay.model;

import io.iommureplay.model.iotlb.IotlbListener;
import io.iommureplay.model.iotlb.IotlbModel;
import io.iommureplay.model.iotlb.StaleTable;
import io.iommureplay.model.iotlb.Window;
import io.iommureplay.model.pagetable.IoPageTable;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.TablePageListener;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.model.sva.PasidSpace;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceAccess;
import io.iommureplay.schema.DomainLifecycle;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaPath;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.PasidOp;
import io.iommureplay.schema.ReservedRegion;
import io.iommureplay.schema.Unmapping;
import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The IOMMU model of one host: its domains and devices, each domain's page table. Events are
 * applied in recording order with {@link #apply}; what happens is told to a {@link ModelListener}.
 * Deterministic: the same events give the same calls in the same order.
 */
public final class IommuModel {
  private final ModelConfig config;
  private final ModelListener listener;
  private final Map<Long, Domain> domains = new TreeMap<>();
  private final Map<String, Domain> domainOfDevice = new TreeMap<>();
  private final OrphanUnmaps orphanUnmaps = new OrphanUnmaps();
  private final PasidSpace pasids;
  private final IotlbModel iotlb;

  /**
   * Whether the trace shows the invalidations the hardware received (qi_submit, cache_tag_flush_*).
   * Until it does, the driver's flush requests stand in for them.
   */
  private boolean sawHardwareFlush;

  /** Reused buffer of the (iova, paddr) runs of the range being unmapped. */
  private final PhysRuns physRuns = new PhysRuns();

  /** The last device bound and its domain (a cache of domainOfDevice). */
  private String lastBoundDevice;

  private Domain lastBoundDomain;

  private final DeferredRelease deferred;

  public IommuModel(ModelConfig config, ModelListener listener) {
    this(
        config,
        listener,
        new IotlbModel(config.iotlb(), iotlbListener(listener)),
        new PasidSpace());
  }

  /** Both a new and a restored model are made here, so their listeners are wired alike. */
  private IommuModel(
      ModelConfig config, ModelListener listener, IotlbModel iotlb, PasidSpace pasids) {
    this.config = config;
    this.listener = listener;
    this.iotlb = iotlb;
    this.pasids = pasids;
    orphanUnmaps.onEvict(
        o -> listener.notApplied(o.event(), "no domain: the unmap could not be attributed"));
    this.deferred = new DeferredRelease(config, iotlb, listener);
  }

  private static IotlbListener iotlbListener(ModelListener listener) {
    return new IotlbListener() {
      @Override
      public void windowClosed(Window window, long openNs, long seq, Closure cause) {
        listener.windowClosed(window, openNs, seq, cause);
      }

      @Override
      public void windowPartlyInvalidated(Window window, long missedBytes, long seq) {
        listener.windowPartlyFlushed(window, missedBytes, seq);
      }

      @Override
      public void tableFlushed(StaleTable table, long cachedNs, long seq) {
        listener.tableFlushed(table, cachedNs, seq);
      }
    };
  }

  /**
   * The whole state of the model as a versioned snapshot ({@link ModelSnapshot}); not the config or
   * the listener, which {@link #restore(byte[], ModelConfig, ModelListener)} is given again. Call
   * it between events.
   */
  public byte[] snapshot() {
    return ModelSnapshot.write(this);
  }

  /**
   * A model that goes on exactly as the one {@code snapshot} was taken of: the same events give the
   * same listener calls, in the same order.
   *
   * @param config the config the snapshotted model was made with (its page-table format is checked)
   * @throws SnapshotFormatException when {@code snapshot} is truncated, corrupt, of another format
   *     version or of a model with another page-table format
   */
  public static IommuModel restore(byte[] snapshot, ModelConfig config, ModelListener listener) {
    return ModelSnapshot.read(snapshot, config, listener);
  }

  /** Writes the state {@link #restore(SnapshotInput, ModelConfig, ModelListener)} reads. */
  void save(SnapshotOutput out) {
    out.writeString(config.pageTableFormat().name())
        .writeLong(config.pageTableFormat().pageSizes())
        .writeBoolean(sawHardwareFlush);
    iotlb.save(out);
    pasids.save(out);
    out.writeVarInt(domains.size());
    for (Domain d : domains.values()) d.save(out);
    orphanUnmaps.save(out);
    deferred.save(out);
  }

  static IommuModel restore(SnapshotInput in, ModelConfig config, ModelListener listener) {
    String format = in.readString();
    long pageSizes = in.readLong();
    if (!config.pageTableFormat().name().equals(format)
        || config.pageTableFormat().pageSizes() != pageSizes) {
      throw new SnapshotFormatException(
          "snapshot of a model with %s tables (page sizes 0x%x), config has %s (0x%x)"
              .formatted(
                  format,
                  pageSizes,
                  config.pageTableFormat().name(),
                  config.pageTableFormat().pageSizes()));
    }
    boolean sawHardwareFlush = in.readBoolean();
    IommuModel model =
        new IommuModel(
            config,
            listener,
            IotlbModel.restore(in, iotlbListener(listener)),
            PasidSpace.restore(in));
    model.sawHardwareFlush = sawHardwareFlush;
    for (int n = in.readCount(); n > 0; n--) {
      Domain d = Domain.restore(in, config.pageTableFormat(), model.deferred::queueListener);
      if (model.domains.put(d.id(), d) != null)
        throw new SnapshotFormatException("domain " + d.id() + " twice");
      // Each device is in one domain's device set: the map from devices is derived from them.
      for (String device : d.devices()) {
        if (model.domainOfDevice.put(device, d) != null)
          throw new SnapshotFormatException("device " + device + " in two domains");
      }
    }
    model.orphanUnmaps.restore(in);
    model.deferred.restore(in, model.domains);
    return model;
  }

  /** The open parts of any window of {@code domain} within {@code [iova, iova + size)}. */
  public void forEachOpenWindowRange(
      long domain, long iova, long size, IotlbModel.RangeVisitor visitor) {
    iotlb.forEachOpenRange(domain, iova, size, visitor);
  }

  /** The open use-after-unmap windows of a domain. */
  public void forEachOpenWindow(long domain, Consumer<Window> action) {
    iotlb.forEachOpenWindow(domain, action);
  }

  /** Domains by id. */
  public Collection<Domain> domains() {
    return Collections.unmodifiableCollection(domains.values());
  }

  public Domain domain(long id) {
    return domains.get(id);
  }

  /** Applies one event. Events of kinds the model does not use are ignored. */
  public void apply(IommuEvent event) {
    deferred.beforeEvent(event);
    switch (event.getType()) {
      case DOMAIN_ALLOC -> onDomainAlloc(event, (DomainLifecycle) event.getPayload());
      case ATTACH -> attach(event);
      case DETACH -> detach(event);
      case IOVA_DOMAIN_INIT -> onIovaDomainInit(event, (IovaDomainInit) event.getPayload());
      case IOVA_RESERVE -> onIovaReserve(event, (IovaRange) event.getPayload());
      case RESERVED_REGION -> onReservedRegion(event, (ReservedRegion) event.getPayload());
      case MAP -> onMap(event, (Mapping) event.getPayload());
      case UNMAP -> onUnmap(event, (Unmapping) event.getPayload());
      case SVA_BIND -> onBind(event, (PasidOp) event.getPayload());
      case SVA_UNBIND ->
          pasids.unbind(event.getDevice(), ((PasidOp) event.getPayload()).getPasid());
      case MM_EXIT -> pasids.mmExit(((PasidOp) event.getPayload()).getMmId());
      case PASID_FREE -> pasids.free(((PasidOp) event.getPayload()).getPasid());
      case DEVICE_ACCESS -> onDeviceAccess(event, (DeviceAccess) event.getPayload());
      case IOTLB_FLUSH -> {
        sawHardwareFlush = true;
        onInvalidation(event, (IotlbInvalidation) event.getPayload());
      }
      case IOTLB_FLUSH_REQUEST -> {
        IotlbInvalidation request = (IotlbInvalidation) event.getPayload();
        Domain domain = domainOf(event);
        if (domain != null && request.getTrigger() == FlushTrigger.SYNC) domain.sawSync();
        if (!sawHardwareFlush) onInvalidation(event, request);
      }
      case IOVA_ALLOC -> onIovaAlloc(event, (IovaAllocation) event.getPayload());
      case IOVA_FREE ->
          onIova(
              event,
              iova -> iova.freed((IovaFree) event.getPayload(), event.getCpu(), event.getTsNs()));
      case IOVA_REMOVE ->
          onIova(
              event,
              iova ->
                  iova.removed(
                      ((IovaRange) event.getPayload()).getPfnLo(),
                      ((IovaRange) event.getPayload()).getPfnHi(),
                      event.getTsNs()));
      case FQ_ENQUEUE -> onFlushQueue(event, (FlushQueueOp) event.getPayload(), true);
      case FQ_FLUSH -> onFlushQueue(event, (FlushQueueOp) event.getPayload(), false);
      default -> {}
    }
    deferred.afterEvent(event);
  }

  private void onIovaAlloc(IommuEvent event, IovaAllocation alloc) {
    Domain domain = domainOf(event);
    if (domain == null || domain.iova() == null || alloc.getPath() != IovaPath.FAST) return;
    long modelPfn = domain.iova().allocated(alloc, event.getCpu(), event.getTsNs());
    if (modelPfn == -2) return;
    if (alloc.getPfn() != null) {
      listener.iovaAllocated(event, domain, alloc.getPfn(), alloc.getPages(), modelPfn);
    } else {
      listener.iovaAllocationFailed(event, domain, alloc.getPages(), alloc.getLimitPfn());
    }
  }

  private void onIova(IommuEvent event, Consumer<IovaReplay> action) {
    Domain domain = domainOf(event);
    if (domain != null && domain.iova() != null) action.accept(domain.iova());
  }

  private void onFlushQueue(IommuEvent event, FlushQueueOp op, boolean enqueue) {
    Domain domain = domainOf(event);
    if (domain == null) {
      listener.notApplied(event, "no domain: the flush-queue event could not be attributed");
    } else if (enqueue) {
      deferred.enqueued(event, domain, op);
    } else {
      deferred.flushStarted(event, domain, op);
    }
  }

  private void onIovaDomainInit(IommuEvent event, IovaDomainInit init) {
    Domain domain = domainOf(event);
    if (domain == null) return;
    domain.setGranule(init.getGranule());
    if (domain.type() == DomainType.UNKNOWN) {
      // dma-iommu owns it. Lazy once its unmaps are seen queued, whatever the mode; until then
      // what the mode says (auto: strict, the kernel's default for DMA domains).
      domain.setType(config.mode() == InvalidationMode.LAZY ? DomainType.DMA_FQ : DomainType.DMA);
    }
    domain.setIova(
        new IovaReplay(
            config.allocatorProfile(), config.cpus(), init.getGranule(), init.getStartPfn()));
  }

  private void onIovaReserve(IommuEvent event, IovaRange range) {
    Domain domain = domainOf(event);
    if (domain == null) return;
    long granule = domain.granule();
    domain
        .reservedRegions()
        .add(range.getPfnLo() * granule, (range.getPfnHi() - range.getPfnLo() + 1) * granule, null);
    if (domain.iova() != null) domain.iova().reserve(range.getPfnLo(), range.getPfnHi());
  }

  private void onReservedRegion(IommuEvent event, ReservedRegion region) {
    Domain domain = domainOf(event);
    if (domain == null && event.getDevice() != null) domain = domainOfDevice.get(event.getDevice());
    if (domain == null) {
      listener.notApplied(event, "reserved region of a device not attached to any domain");
      return;
    }
    domain.reservedRegions().add(region.getStart(), region.getSize(), region.getKind());
  }

  private void onBind(IommuEvent event, PasidOp op) {
    boolean allocated = !pasids.hasPasid(op.getMmId());
    int pasid = pasids.bind(event.getDevice(), op.getMmId(), op.getPasid());
    listener.pasidBound(event, event.getDevice(), pasid, allocated);
  }

  private void checkPasid(IommuEvent event, Integer pasid) {
    if (pasid == null || pasid == 0 || event.getDevice() == null) return;
    PasidSpace.Problem problem = pasids.checkUse(event.getDevice(), pasid);
    if (problem != null) listener.pasidMisused(event, event.getDevice(), pasid, problem);
  }

  private void onDomainAlloc(IommuEvent event, DomainLifecycle alloc) {
    Domain domain = domainOf(event);
    if (domain != null && alloc.getDomainType() != DomainType.UNKNOWN)
      domain.setType(alloc.getDomainType());
  }

  private void attach(IommuEvent event) {
    String device = event.getDevice();
    Domain domain = domainOf(event);
    if (device == null || domain == null) return;
    bind(device, domain);
  }

  private void detach(IommuEvent event) {
    String device = event.getDevice();
    Domain domain = device == null ? null : domainOfDevice.remove(device);
    if (domain == null) return;
    lastBoundDevice = null;
    listener.detached(event, domain, device);
    domain.detach(device);
    iotlb.detach(domain.id(), device, IotlbModel.NO_PASID);
  }

  /** Moves a device to {@code domain}: a device is in one domain at a time. */
  private void bind(String device, Domain domain) {
    // Every map and unmap names its device: skip the lookup when it is the binding just made.
    if (domain == lastBoundDomain && device.equals(lastBoundDevice)) return;
    lastBoundDevice = device;
    lastBoundDomain = domain;
    Domain previous = domainOfDevice.put(device, domain);
    if (previous == domain) return;
    if (previous != null) {
      previous.detach(device);
      iotlb.detach(previous.id(), device, IotlbModel.NO_PASID);
    }
    domain.attach(device);
    iotlb.attach(domain.id(), device, IotlbModel.NO_PASID, false);
  }

  private void onMap(IommuEvent event, Mapping map) {
    Domain domain = requireDomain(event);
    if (domain == null) return;
    noteDevice(event, domain);
    adoptOrphanUnmap(domain, map);
    // prot 0 means the trace did not say (iommu:map does not print it); a traced map succeeded, and
    // iommu_map() refuses one without read or write permission, so it had some: assume both.
    int prot =
        map.getProt() == 0 ? IoPageTable.IOMMU_READ | IoPageTable.IOMMU_WRITE : map.getProt();
    MapResult result =
        domain.pageTable().map(map.getIova(), map.getPaddr(), map.getSize(), prot, event.getCpu());
    listener.mapped(event, domain, map, result);
    deferred.mapped(event, domain, result);
    ReservedRegions.Region forbidden =
        domain.reservedRegions().forbidding(map.getIova(), map.getSize(), map.getPaddr());
    if (forbidden != null) listener.reservedRegionMapped(event, domain, map, forbidden);
  }

  private void onUnmap(IommuEvent event, Unmapping unmap) {
    Domain domain = domainOf(event);
    // An inferred domain that has nothing mapped there was a wrong guess: wait for better evidence.
    boolean wrongGuess =
        domain != null
            && event.getAttribution() == Attribution.INFERRED
            && domain.pageTable().mappedBytes(unmap.getIova(), unmap.getSize()) == 0;
    if (domain == null || wrongGuess) {
      orphanUnmaps.add(event, unmap);
      return;
    }
    noteDevice(event, domain);
    UnmapResult result = applyUnmap(event, domain, unmap, true);
    // An unmap whose domain the importer had to infer lost its dma-iommu kprobe hits, and with
    // them (strict: the same call) its free_iova_fast: free the IOVA here. An unmap the trace names
    // its domain for (TRACE, CPU_CONTEXT) had its free recorded.
    if (domain.iova() != null
        && domain.syncSeen()
        && event.getAttribution() == Attribution.INFERRED) {
      domain
          .iova()
          .missedStrictFree(unmap.getIova() / domain.granule(), event.getCpu(), event.getTsNs());
    }
    deferred.unmapped(event, domain, unmap, result);
  }

  /**
   * Applies an unmap to the page table and, unless it comes late (an orphan whose domain a later
   * map revealed: its window and flushes are past), opens its window.
   */
  private UnmapResult applyUnmap(IommuEvent event, Domain domain, Unmapping unmap, boolean onTime) {
    if (onTime) physRuns.collect(domain.pageTable(), unmap.getIova(), unmap.getSize());
    UnmapResult result = domain.pageTable().unmap(unmap.getIova(), unmap.getSize(), event.getCpu());
    listener.unmapped(event, domain, unmap, result);
    if (onTime && result.removedBytes() > 0 && !physRuns.isEmpty()) {
      Window window =
          iotlb.unmap(
              domain.id(),
              physRuns.firstIova(),
              physRuns.span(),
              physRuns.toArray(),
              event.getCpu(),
              event.getTsNs(),
              event.getSeq());
      if (window != null) listener.windowOpened(event, domain, window);
    }
    return result;
  }

  private void onInvalidation(IommuEvent event, IotlbInvalidation invalidation) {
    Domain domain = domainOf(event);
    boolean anyDomain =
        invalidation.getScope() == FlushScope.GLOBAL
            || invalidation.getScope() == FlushScope.DEVICE_TLB
            || invalidation.getScope() == FlushScope.PASID_DEVICE_TLB;
    if (domain == null && !anyDomain) {
      listener.notApplied(event, "no domain: the invalidation could not be attributed");
      return;
    }
    if (domain != null && invalidation.getTrigger() == FlushTrigger.SYNC) domain.sawSync();
    iotlb.invalidate(
        domain == null ? -1 : domain.id(), invalidation, event.getTsNs(), event.getSeq());
    listener.flushed(event, domain, invalidation);
    deferred.invalidated(event, domain, invalidation);
  }

  private void onDeviceAccess(IommuEvent event, DeviceAccess access) {
    checkPasid(event, access.getPasid());
    String device = event.getDevice();
    Domain domain = domainOf(event);
    if (domain == null && device != null) domain = domainOfDevice.get(device);
    if (domain == null) {
      listener.notApplied(event, "no domain: an access by a device in no known domain");
      return;
    }
    Domain target = domain;
    iotlb.forEachOpenRange(
        domain.id(),
        device,
        IotlbModel.NO_PASID,
        access.getIova(),
        access.getSize(),
        (window, first, last) -> listener.staleAccess(event, target, window, first, last));
    // What the page table translates may now be cached (observed mode).
    long end = access.getIova() + access.getSize();
    domain
        .pageTable()
        .forEachMapping(
            access.getIova(),
            access.getSize(),
            (iova, paddr, size, prot) -> {
              long from = Math.max(iova, access.getIova());
              long to = Math.min(iova + size, end);
              iotlb.deviceAccess(
                  target.id(),
                  device,
                  IotlbModel.NO_PASID,
                  from,
                  to - from,
                  event.getTsNs(),
                  event.getSeq());
            });
  }

  /**
   * An unmap whose domain the trace did not tell (its kprobes were missed) is kept aside. Drivers
   * never map over a live mapping (VT-d would warn "DMA PTE for vPFN ... already set"), so when a
   * map meets a live mapping that such an unmap covers, that unmap was this domain's: apply it
   * first.
   */
  private void adoptOrphanUnmap(Domain domain, Mapping map) {
    if (orphanUnmaps.isEmpty()
        || !orphanUnmaps.overlaps(map.getIova(), map.getSize())
        || domain.pageTable().mappedBytes(map.getIova(), map.getSize()) == 0) {
      return;
    }
    OrphanUnmaps.Orphan orphan =
        orphanUnmaps.take(
            map.getIova(),
            map.getSize(),
            o -> domain.pageTable().mappedBytes(o.unmap().getIova(), o.unmap().getSize()) > 0);
    if (orphan != null) applyUnmap(orphan.event(), domain, orphan.unmap(), false);
  }

  /** Ends the replay: unmaps whose domain never became known are reported as not applied. */
  public void finish() {
    orphanUnmaps.drain(
        o -> listener.notApplied(o.event(), "no domain: the unmap could not be attributed"));
  }

  /** A map or unmap names its device even where no attach was recorded (tracing started late). */
  private void noteDevice(IommuEvent event, Domain domain) {
    if (event.getDevice() != null) bind(event.getDevice(), domain);
  }

  private Domain requireDomain(IommuEvent event) {
    Domain domain = domainOf(event);
    if (domain == null) listener.notApplied(event, "no domain: the event could not be attributed");
    return domain;
  }

  /** The event's domain, created on first sight; null when the event names none. */
  private Domain domainOf(IommuEvent event) {
    long id = event.getDomain();
    if (id < 0) return null;
    Domain domain = domains.get(id);
    if (domain == null) {
      domain =
          new Domain(
              id,
              DomainType.UNKNOWN,
              new IoPageTable(config.pageTableFormat(), TablePageListener.NONE));
      domains.put(id, domain);
      iotlb.defineDomain(id, false);
    }
    return domain;
  }
}
