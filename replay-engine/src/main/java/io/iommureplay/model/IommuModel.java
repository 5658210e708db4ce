package io.iommureplay.model;

import io.iommureplay.model.pagetable.IoPageTable;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.TablePageListener;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.sva.PasidSpace;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceAccess;
import io.iommureplay.schema.DomainLifecycle;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.PasidOp;
import io.iommureplay.schema.ReservedRegion;
import io.iommureplay.schema.Unmapping;
import java.util.Collection;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

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
  private final PasidSpace pasids = new PasidSpace();

  public IommuModel(ModelConfig config, ModelListener listener) {
    this.config = config;
    this.listener = listener;
    orphanUnmaps.onEvict(
        o -> listener.notApplied(o.event(), "no domain: the unmap could not be attributed"));
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
      case DEVICE_ACCESS -> checkPasid(event, ((DeviceAccess) event.getPayload()).getPasid());
      default -> {}
    }
  }

  private void onIovaDomainInit(IommuEvent event, IovaDomainInit init) {
    Domain domain = domainOf(event);
    if (domain == null) return;
    domain.setGranule(init.getGranule());
    if (domain.type() == DomainType.UNKNOWN)
      domain.setType(DomainType.DMA); // dma-iommu owns it; lazy if FQ seen
  }

  private void onIovaReserve(IommuEvent event, IovaRange range) {
    Domain domain = domainOf(event);
    if (domain == null) return;
    long granule = domain.granule();
    domain
        .reservedRegions()
        .add(range.getPfnLo() * granule, (range.getPfnHi() - range.getPfnLo() + 1) * granule, null);
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
    Domain previous = domainOfDevice.put(device, domain);
    if (previous != null && previous != domain) previous.detach(device);
    domain.attach(device);
  }

  private void detach(IommuEvent event) {
    String device = event.getDevice();
    Domain domain = device == null ? null : domainOfDevice.remove(device);
    if (domain != null) domain.detach(device);
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
    applyUnmap(event, domain, unmap);
  }

  private void applyUnmap(IommuEvent event, Domain domain, Unmapping unmap) {
    UnmapResult result = domain.pageTable().unmap(unmap.getIova(), unmap.getSize(), event.getCpu());
    listener.unmapped(event, domain, unmap, result);
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
    if (orphan != null) applyUnmap(orphan.event(), domain, orphan.unmap());
  }

  /** Ends the replay: unmaps whose domain never became known are reported as not applied. */
  public void finish() {
    orphanUnmaps.drain(
        o -> listener.notApplied(o.event(), "no domain: the unmap could not be attributed"));
  }

  /** A map or unmap names its device even where no attach was recorded (tracing started late). */
  private void noteDevice(IommuEvent event, Domain domain) {
    String device = event.getDevice();
    if (device != null && domainOfDevice.get(device) != domain) {
      Domain previous = domainOfDevice.put(device, domain);
      if (previous != null) previous.detach(device);
      domain.attach(device);
    }
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
    return domains.computeIfAbsent(
        id,
        i -> new Domain(i, DomainType.UNKNOWN, config.pageTableFormat(), TablePageListener.NONE));
  }
}
