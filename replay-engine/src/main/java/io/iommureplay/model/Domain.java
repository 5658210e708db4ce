package io.iommureplay.model;

import io.iommureplay.model.flushqueue.FlushQueue;
import io.iommureplay.model.flushqueue.FlushQueueListener;
import io.iommureplay.model.pagetable.IoPageTable;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.model.pagetable.TablePageListener;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import io.iommureplay.schema.DomainType;
import java.util.Collections;
import java.util.NavigableSet;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * One IOMMU domain of the model: its type, the devices attached to it, and its IO page table.
 * Detectors read it through the getters; only {@link IommuModel} changes it.
 */
public final class Domain {
  private final long id;
  private DomainType type;
  private final IoPageTable pageTable;
  private final NavigableSet<String> devices = new TreeSet<>();
  private final ReservedRegions reserved = new ReservedRegions();
  private long granule = 4096;
  private FlushQueue flushQueue;
  private IovaReplay iova;

  /** The trace shows strict invalidation (an iotlb_sync after an unmap). */
  private boolean syncSeen;

  Domain(long id, DomainType type, IoPageTable pageTable) {
    this.id = id;
    this.type = type;
    this.pageTable = pageTable;
  }

  public long id() {
    return id;
  }

  public DomainType type() {
    return type;
  }

  void setType(DomainType type) {
    this.type = type;
  }

  /** DMA_FQ: unmaps go through the flush queue. */
  public boolean isLazy() {
    return type == DomainType.DMA_FQ;
  }

  /** The flush queue of a lazy domain (null for others): read its counters, never drive it. */
  public FlushQueue flushQueue() {
    return flushQueue;
  }

  /** The kernel's IOVA allocator of a DMA domain, replayed (null before IOVA_DOMAIN_INIT). */
  public IovaReplay iova() {
    return iova;
  }

  void setIova(IovaReplay replay) {
    iova = replay;
  }

  /** Whether the trace showed this domain flush an unmap before returning (strict). */
  boolean syncSeen() {
    return syncSeen;
  }

  void sawSync() {
    syncSeen = true;
  }

  /** The trace shows this domain queues its unmaps: it is DMA_FQ. */
  void makeLazy(FlushQueue queue) {
    type = DomainType.DMA_FQ;
    flushQueue = queue;
  }

  public IoPageTable pageTable() {
    return pageTable;
  }

  public ReservedRegions reservedRegions() {
    return reserved;
  }

  /** Smallest IOMMU page size: the IOVA allocation granule (init_iova_domain). */
  public long granule() {
    return granule;
  }

  void setGranule(long granule) {
    this.granule = granule;
  }

  /** Attached devices, in name order. */
  public NavigableSet<String> devices() {
    return Collections.unmodifiableNavigableSet(devices);
  }

  void attach(String device) {
    devices.add(device);
  }

  void detach(String device) {
    devices.remove(device);
  }

  /** The one attached device, or null when none or several are attached. */
  public String soleDevice() {
    return devices.size() == 1 ? devices.first() : null;
  }

  void save(SnapshotOutput out) {
    out.writeVarLong(id).writeEnum(type).writeVarLong(granule).writeBoolean(syncSeen);
    pageTable.save(out);
    out.writeVarInt(devices.size());
    devices.forEach(out::writeString);
    reserved.save(out);
    out.writeBoolean(flushQueue != null);
    if (flushQueue != null) flushQueue.save(out);
    out.writeBoolean(iova != null);
    if (iova != null) iova.save(out);
  }

  /**
   * Reads what {@link #save} wrote. The page table is of {@code format} (a table does not save its
   * format); the flush queue reports to the listener {@code queueListener} makes for the domain.
   */
  static Domain restore(
      SnapshotInput in,
      PageTableFormat format,
      Function<Domain, FlushQueueListener> queueListener) {
    long id = in.readVarLong();
    DomainType type = in.readEnum(DomainType.class);
    long granule = in.readVarLong();
    boolean syncSeen = in.readBoolean();
    Domain d = new Domain(id, type, IoPageTable.restore(in, format, TablePageListener.NONE));
    d.granule = granule;
    d.syncSeen = syncSeen;
    for (int n = in.readCount(); n > 0; n--) d.devices.add(in.readString());
    d.reserved.restore(in);
    if (in.readBoolean()) d.flushQueue = FlushQueue.restore(in, queueListener.apply(d));
    if (in.readBoolean()) d.iova = IovaReplay.restore(in);
    return d;
  }
}
