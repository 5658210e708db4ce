package io.iommureplay.importer;

import io.iommureplay.importer.CpuContext.DmaCall;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.CacheTagOp;
import io.iommureplay.schema.DeviceBinding;
import io.iommureplay.schema.DmaApiCall;
import io.iommureplay.schema.EventType;
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
import io.iommureplay.schema.PageFault;
import io.iommureplay.schema.TraceMarker;
import io.iommureplay.schema.Unmapping;
import java.io.BufferedReader;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Turns Linux ftrace text of one host into {@link IommuEvent}s, in one streaming pass with memory
 * bounded by the number of CPUs and kernel objects, never by the trace length.
 *
 * <p>Understands the iommu:* tracepoints (map/unmap in the formats before and after Linux 5.14),
 * intel_iommu:qi_submit and cache_tag_*, the dma:* tracepoints of Linux 6.12+, and kprobe events on
 * the IOVA allocator (drivers/iommu/iova.c), the flush queue and the dma-iommu paths
 * (drivers/iommu/dma-iommu.c) and the VT-d flush entry points. Kprobe lines are recognised by the
 * function they were hit in, whatever the probe is called; their arguments by the names the README
 * gives. Every recognised line becomes exactly one event; other lines are counted per kind, and
 * lines of a known kind that do not parse are rejected with their line number and the reason, and
 * the import goes on.
 *
 * <p>Map and unmap carry no device or domain, so each is attributed from the dma-iommu and
 * allocator kprobes on the same CPU and interrupt level (see {@link CpuContext}). When those were
 * missed, the event is held back (briefly, in order) until a following line names its domain — the
 * fq_ring_free that queues a lazy unmap, the iotlb_sync of a strict one, the dma:* tracepoint that
 * follows a map, or the init_iova_domain that follows a group's direct mappings — and flagged
 * {@link Attribution#MISSING} if none does. Nothing is dropped.
 */
public final class FtraceImporter {
  /** How many lines an event may wait for its attribution before it is emitted as MISSING. */
  static final long ATTRIBUTION_HORIZON_LINES = 4096;

  private final String host;
  private final ImportSink sink;
  private final ImportStats stats = new ImportStats();
  private final KernelObjects kernel = new KernelObjects();
  private final FtraceLine line = new FtraceLine();
  private final BodyFields fields = new BodyFields();
  private final LiveMappings live = new LiveMappings();
  private final ArrayDeque<HeldEvent> held = new ArrayDeque<>();
  private CpuContext[] contexts = new CpuContext[8 * 4];
  private String file;
  private long lineNumber;
  private long seqOffset;

  /**
   * @param host the host every event is recorded as coming from
   * @param sink receives the events in line order, and the rejected lines
   */
  public FtraceImporter(String host, ImportSink sink) {
    this.host = host;
    this.sink = sink;
  }

  /**
   * Reads one trace file to its end. Several files of one host are read in order by calling this
   * once for each; sequence numbers continue across them (the line number within the
   * concatenation), so they stay unique per host.
   *
   * @param fileLabel how rejected lines name the file
   */
  public void read(String fileLabel, BufferedReader in) throws IOException {
    file = fileLabel;
    lineNumber = 0;
    for (String text = in.readLine(); text != null; text = in.readLine()) {
      lineNumber++;
      stats.lines++;
      accept(text);
      if (!held.isEmpty()) expireHeld();
    }
    seqOffset += lineNumber;
  }

  /** Emits every event still held back (as MISSING where nothing named its domain). */
  public void finish() {
    for (HeldEvent h : held) giveUp(h);
    drainHeld();
  }

  public ImportStats stats() {
    return stats;
  }

  private void accept(String text) {
    try {
      if (!line.parse(text)) {
        stats.headerLines++;
        return;
      }
      dispatch();
    } catch (MalformedLineException e) {
      reject(e.getMessage(), text);
    } catch (RuntimeException e) {
      // A parser bug must not stop an import of a multi-GB trace: keep the line and say so.
      reject("internal error " + e, text);
    }
  }

  private void reject(String reason, String text) {
    stats.malformedLines++;
    sink.rejected(new ImportSink.RejectedLine(file, lineNumber, reason, text));
  }

  private void dispatch() throws MalformedLineException {
    String event = line.event();
    fields.reset(line.text, line.bodyStart);
    switch (event) {
      case "map" -> onMap();
      case "unmap" -> onUnmap();
      case "io_page_fault" -> onPageFault();
      case "attach_device_to_domain" -> onAttach();
      case "detach_device_from_domain" -> onDeviceEvent(EventType.DETACH, null);
      case "add_device_to_group" -> onAddToGroup();
      case "remove_device_from_group" -> onDeviceEvent(EventType.DEVICE_REMOVE, groupField());
      case "qi_submit" -> onQiSubmit();
      case "cache_tag_assign", "cache_tag_unassign" -> onCacheTag(event);
      case "cache_tag_flush_all", "cache_tag_flush_range", "cache_tag_flush_range_np" ->
          onCacheTagFlush(event);
      case "tracing_mark_write" ->
          emit(
              EventType.MARKER,
              event,
              -1,
              null,
              Attribution.NOT_NEEDED,
              new TraceMarker(line.body().strip()));
      default -> {
        // A dma:* body starts with the device name; a kprobe's with "(func+...)", whatever the
        // probe is called.
        if (event.startsWith("dma_")
            && BodyFields.probedFunction(line.text, line.bodyStart) == null) onDmaApi(event);
        else onKprobeOrUnknown(event);
      }
    }
  }

  // ---- iommu:* tracepoints (include/trace/events/iommu.h) ----

  private void onMap() throws MalformedLineException {
    long iova = fields.hex("iova=");
    long paddr = fields.hex("paddr=");
    long size = fields.number("size=");
    CpuContext ctx = context();
    ctx.endFlushChain();
    long domain = -1;
    String device = null;
    int prot = 0;
    if (ctx.call == DmaCall.MAP || ctx.call == DmaCall.MAP_SG) {
      device = ctx.callDevice;
      domain = kernel.boundDomainOfDevice(device);
      prot = ctx.callProt;
    }
    Mapping payload = new Mapping(iova, size, paddr, prot, null);
    // The IOVA allocated just before on this context is the surest sign of the domain.
    if (ctx.allocationCovers(iova / kernel.granule(ctx.allocatedDomain)))
      domain = ctx.allocatedDomain;
    if (domain >= 0) {
      if (device == null) device = kernel.soleDevice(domain);
      else kernel.bindDevice(device, domain);
      mapOrUnmap(EventType.MAP, domain, device, Attribution.CPU_CONTEXT, payload, null);
    } else {
      mapOrUnmap(EventType.MAP, -1, null, Attribution.MISSING, payload, ctx);
    }
  }

  private void onUnmap() throws MalformedLineException {
    long iova = fields.hex("iova=");
    long size = fields.number("size=");
    long unmapped = fields.number("unmapped_size=");
    CpuContext ctx = context();
    ctx.endFlushChain();
    expireWaiting(ctx);
    Unmapping payload = new Unmapping(iova, size, unmapped, null);
    boolean inCall = ctx.call == DmaCall.UNMAP || ctx.call == DmaCall.UNMAP_SG;
    long callDomain = inCall ? kernel.boundDomainOfDevice(ctx.callDevice) : -1;
    boolean fromCall = inCall && alignDown(ctx.callDmaAddr, kernel.granule(callDomain)) == iova;
    ctx.unmapPending = true;
    ctx.unmapIova = iova;
    ctx.unmapSize = size;
    if (fromCall && callDomain < 0) {
      // The device's domain is not known yet (the capture began after it was set up): the
      // fq_ring_free or
      // iotlb_sync that follows names it, and so the device's (see resolveWaitingUnmap).
      ctx.unmapDomain = -1;
      ctx.unmapDevice = ctx.callDevice;
      ctx.call = DmaCall.NONE;
      mapOrUnmap(EventType.UNMAP, -1, null, Attribution.MISSING, payload, ctx);
    } else if (fromCall) {
      long domain = callDomain;
      ctx.unmapDomain = domain;
      ctx.unmapDevice = ctx.callDevice;
      ctx.call = DmaCall.NONE;
      mapOrUnmap(EventType.UNMAP, domain, ctx.unmapDevice, Attribution.CPU_CONTEXT, payload, null);
    } else {
      // The dma-iommu kprobe was missed: the domain that has this IOVA mapped is the one, if only
      // one has.
      long domain = live.soleDomainMappedAt(iova);
      ctx.unmapDomain = domain;
      ctx.unmapDevice = domain >= 0 ? kernel.soleDevice(domain) : null;
      if (domain >= 0)
        mapOrUnmap(EventType.UNMAP, domain, ctx.unmapDevice, Attribution.INFERRED, payload, null);
      else mapOrUnmap(EventType.UNMAP, -1, null, Attribution.MISSING, payload, ctx);
    }
  }

  private void mapOrUnmap(
      EventType type,
      long domain,
      String device,
      Attribution attribution,
      Object payload,
      CpuContext waitOn) {
    IommuEvent event = newEvent(type, line.event(), domain, device, attribution, payload);
    stats.countEvent(line.event(), type);
    if (waitOn == null) {
      stats.countMapUnmap(attribution);
      trackLive(event);
      emit(event);
    } else {
      // Deadlines count lines across files (like seq): a file's own line numbers restart at 1.
      HeldEvent h = new HeldEvent(event, seqOffset + lineNumber + ATTRIBUTION_HORIZON_LINES, true);
      waitOn.waiting.add(h);
      held.add(h);
    }
  }

  private void onPageFault() throws MalformedLineException {
    // "IOMMU:%s %s iova=0x%016llx flags=0x%04x": driver, then device.
    String body = line.body();
    int colon = body.indexOf(':');
    String[] names = body.substring(colon + 1).strip().split(" ", 3);
    if (colon < 0 || names.length < 3)
      throw new MalformedLineException("io_page_fault without driver and device");
    String device = names[1];
    emit(
        EventType.IO_PAGE_FAULT,
        line.event(),
        kernel.domainOfDevice(device),
        device,
        Attribution.TRACE,
        new PageFault(fields.hex("iova="), (int) fields.hex("flags="), names[0]));
  }

  private void onAttach() throws MalformedLineException {
    String device = fields.string("device=");
    // A group's devices attach together, then its IOVA domain is set up. Devices of an earlier
    // group that got
    // none (identity, blocked or VFIO domains) must not be bound to the next group's.
    List<String> attached = context().attachedDevices;
    Integer group = kernel.groupOf(device);
    if (!attached.isEmpty()
        && group != null
        && !group.equals(kernel.groupOf(attached.get(attached.size() - 1)))) {
      attached.clear();
    }
    if (!attached.contains(device)) attached.add(device);
    emit(
        EventType.ATTACH,
        line.event(),
        kernel.boundDomainOfDevice(device),
        device,
        Attribution.TRACE,
        new DeviceBinding(kernel.groupOf(device)));
  }

  private void onAddToGroup() throws MalformedLineException {
    Integer group = groupField();
    kernel.addToGroup(fields.string("device="), group);
    onDeviceEvent(EventType.DEVICE_ADD, group);
  }

  private void onDeviceEvent(EventType type, Integer group) throws MalformedLineException {
    String device = fields.string("device=");
    emit(type, line.event(), -1, device, Attribution.NOT_NEEDED, new DeviceBinding(group));
  }

  private Integer groupField() throws MalformedLineException {
    return (int) fields.number("groupID=");
  }

  // ---- intel_iommu:* tracepoints (drivers/iommu/intel/trace.h) ----

  private void onQiSubmit() throws MalformedLineException {
    // "%s %s: 0x%llx 0x%llx 0x%llx 0x%llx": descriptor kind, IOMMU name, qw0..qw3.
    String body = line.body();
    String[] parts = body.split(" ");
    if (parts.length != 6 || !parts[1].endsWith(":")) {
      throw new MalformedLineException("qi_submit body is not 'KIND IOMMU: QW0 QW1 QW2 QW3'");
    }
    String kind = parts[0];
    String iommu = parts[1].substring(0, parts[1].length() - 1);
    long[] qw = new long[4];
    for (int i = 0; i < 4; i++) qw[i] = parseHexWord(parts[i + 2]);
    QiDescriptorDecoder.Decoded decoded;
    try {
      decoded = QiDescriptorDecoder.decode(kind, iommu, qw[0], qw[1], qw[2], qw[3]);
    } catch (QiDescriptorDecoder.MalformedException e) {
      throw new MalformedLineException(e.getMessage());
    }
    String source = "qi_submit " + kind;
    CpuContext ctx = context();
    if (decoded instanceof QiDescriptorDecoder.Flush flush) {
      IotlbInvalidation inv = flush.invalidation();
      inv.setTrigger(ctx.flushTrigger);
      long domain = ctx.flushDomain;
      Attribution attribution = Attribution.CPU_CONTEXT;
      Integer did = inv.getHwDomainId();
      if (did != null && domain >= 0) kernel.learnHwDomainId(did, domain);
      if (domain < 0 && did != null) {
        domain = kernel.domainOfHwId(did);
        attribution = domain >= 0 ? Attribution.INFERRED : Attribution.MISSING;
      }
      if (domain >= 0 && inv.getScope() == FlushScope.PAGE) {
        // Strict unmap → iotlb_sync → a page-selective flush of the same range on this context.
        long start = inv.getIova();
        long end = start + inv.getSize();
        resolveWaitingUnmap(
            ctx, domain, u -> u.getIova() >= start && u.getIova() + u.getSize() <= end);
      }
      if (inv.getScope() == FlushScope.GLOBAL) {
        domain = -1;
        attribution = Attribution.NOT_NEEDED;
      }
      emit(
          EventType.IOTLB_FLUSH,
          source,
          domain,
          domain >= 0 ? kernel.soleDevice(domain) : null,
          attribution,
          inv);
    } else {
      emit(
          EventType.QI_DESCRIPTOR,
          source,
          -1,
          null,
          Attribution.NOT_NEEDED,
          ((QiDescriptorDecoder.Other) decoded).descriptor());
    }
  }

  /**
   * cache_tag_assign/unassign, class cache_tag_log: {@code "%s/%s type %s did %d pasid %d ref %d"}.
   */
  private void onCacheTag(String event) throws MalformedLineException {
    String[] t = line.body().strip().split(" ");
    int slash = t[0].indexOf('/');
    if (t.length != 9
        || slash < 0
        || !t[1].equals("type")
        || !t[3].equals("did")
        || !t[5].equals("pasid")
        || !t[7].equals("ref")) {
      throw new MalformedLineException(
          event + " body is not 'IOMMU/DEVICE type T did D pasid P ref R'");
    }
    String device = t[0].substring(slash + 1);
    int did = (int) decimal(t[4]);
    int pasid = (int) decimal(t[6]);
    emit(
        EventType.CACHE_TAG,
        event,
        kernel.boundDomainOfDevice(device),
        device,
        Attribution.TRACE,
        new CacheTagOp(
            event,
            t[0].substring(0, slash),
            t[2],
            did,
            pasid == 0 ? null : pasid,
            (int) decimal(t[8])));
  }

  private void onCacheTagFlush(String event) throws MalformedLineException {
    Optional<IotlbInvalidation> decoded;
    try {
      decoded = QiDescriptorDecoder.decodeCacheTagFlush(event, line.body());
    } catch (QiDescriptorDecoder.MalformedException e) {
      throw new MalformedLineException(e.getMessage());
    }
    if (decoded.isEmpty()) {
      // range_np on a device-TLB tag: traced, but nothing is invalidated. Still one event per line.
      emit(
          EventType.CACHE_TAG,
          event,
          -1,
          null,
          Attribution.NOT_NEEDED,
          new CacheTagOp(event, "", "devtlb", -1, null, -1));
      return;
    }
    IotlbInvalidation inv = decoded.get();
    CpuContext ctx = context();
    inv.setTrigger(ctx.flushTrigger);
    long domain = ctx.flushDomain;
    if (domain < 0 && inv.getHwDomainId() != null)
      domain = kernel.domainOfHwId(inv.getHwDomainId());
    else if (domain >= 0 && inv.getHwDomainId() != null)
      kernel.learnHwDomainId(inv.getHwDomainId(), domain);
    emit(
        EventType.IOTLB_FLUSH,
        event,
        domain,
        domain >= 0 ? kernel.soleDevice(domain) : null,
        domain >= 0 ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        inv);
  }

  // ---- dma:* tracepoints (include/trace/events/dma.h, Linux 6.12+) ----

  private void onDmaApi(String event) throws MalformedLineException {
    EventType type =
        switch (event) {
          case "dma_map_page", "dma_map_resource", "dma_map_phys" -> EventType.DMA_MAP;
          case "dma_unmap_page", "dma_unmap_resource", "dma_unmap_phys" -> EventType.DMA_UNMAP;
          case "dma_map_sg", "dma_map_sg_err" -> EventType.DMA_MAP_SG;
          case "dma_unmap_sg" -> EventType.DMA_UNMAP_SG;
          case "dma_alloc", "dma_alloc_pages", "dma_alloc_sgt", "dma_alloc_sgt_err" ->
              EventType.DMA_ALLOC;
          case "dma_free", "dma_free_pages", "dma_free_sgt" -> EventType.DMA_FREE;
          default -> event.startsWith("dma_sync_") ? EventType.DMA_SYNC : null;
        };
    if (type == null) {
      stats.countUnknown(event);
      return;
    }
    String body = line.body();
    int space = body.indexOf(' ');
    String device = space > 0 ? body.substring(0, space) : body;
    // dma_map_sg_err and dma_alloc_sgt_err: nothing was mapped (dma_alloc_sgt_err prints
    // dma_addr=0).
    boolean failed = event.endsWith("_err");
    Long dmaAddr = fields.has("dma_addr=") && !failed ? fields.hex("dma_addr=") : null;
    Long size = fields.has("size=") ? fields.number("size=") : null;
    Long phys = fields.has("phys_addr=") ? fields.hex("phys_addr=") : null;
    String dir = fields.has("dir=") ? fields.string("dir=") : null;
    String attrs = fields.has("attrs=") ? fields.string("attrs=") : null;
    // Scatterlists are printed as arrays (__print_array): the physical addresses of the entries
    // passed, and the
    // DMA segments made with their lengths. dma_map_sg_err prints the physical addresses under
    // dma_addrs=.
    long[] physAddrs = fields.hexArray("phys_addrs=");
    long[] dmaAddrs = fields.hexArray("dma_addrs=");
    if (failed && dmaAddrs != null) {
      physAddrs = dmaAddrs;
      dmaAddrs = null;
    }
    Integer nents = null;
    Integer mapped = failed && type == EventType.DMA_MAP_SG ? 0 : null;
    if (physAddrs != null) {
      if (physAddrs.length > 0) phys = physAddrs[0];
      nents = physAddrs.length;
    }
    long[] lengths = {size == null ? 1 : size};
    if (dmaAddrs != null) {
      lengths = fields.hexArray("sizes=");
      if (lengths == null || lengths.length != dmaAddrs.length) {
        throw new MalformedLineException(
            dmaAddrs.length
                + " dma_addrs but "
                + (lengths == null ? "no" : lengths.length)
                + " sizes");
      }
      dmaAddr = dmaAddrs.length > 0 ? dmaAddrs[0] : null;
      size = Arrays.stream(lengths).sum();
      if (physAddrs != null) mapped = dmaAddrs.length;
      else nents = dmaAddrs.length;
    } else if (dmaAddr != null) {
      dmaAddrs = new long[] {dmaAddr};
    }
    // Later dma_map_sg: "nents=%d/%d ents=%d/%d", entries shown / in all (its arrays stop at 128
    // entries).
    if (fields.has("nents=")) nents = (int) fields.total("nents=");
    if (fields.has("ents=")) mapped = (int) fields.total("ents=");
    long domain = kernel.domainOfDevice(device);
    // The map, alloc and unmap tracepoints fire after the IOMMU work is done: they name the device
    // of the
    // map/unmap lines just before them on this context.
    if (dmaAddrs != null && dmaAddrs.length > 0) {
      long granule = kernel.granule(domain);
      long[] starts = dmaAddrs;
      long[] sizes = lengths;
      resolveWaiting(context(), h -> covers(h.event, starts, sizes, granule), domain, device);
    }
    emit(
        type,
        event,
        domain,
        device,
        Attribution.TRACE,
        new DmaApiCall(dmaAddr, size, phys, dir, attrs, null, null, nents, mapped));
  }

  /**
   * Whether a held map or unmap is one of the DMA segments {@code [addrs[i], addrs[i] +
   * lengths[i])}.
   */
  private static boolean covers(IommuEvent e, long[] addrs, long[] lengths, long granule) {
    for (int i = 0; i < addrs.length; i++) {
      long start = alignDown(addrs[i], granule);
      long end = addrs[i] + Math.max(lengths[i], 1);
      if (e.getPayload() instanceof Mapping m
          && m.getIova() < end
          && start < m.getIova() + m.getSize()) return true;
      if (e.getPayload() instanceof Unmapping u && start == u.getIova()) return true;
    }
    return false;
  }

  // ---- kprobe events (drivers/iommu/iova.c, dma-iommu.c, intel/iommu.c) ----

  private void onKprobeOrUnknown(String event) throws MalformedLineException {
    String function = BodyFields.probedFunction(line.text, line.bodyStart);
    if (function == null) {
      stats.countUnknown(event);
      return;
    }
    boolean ret = BodyFields.isReturnProbe(line.text, line.bodyStart);
    CpuContext ctx = context();
    switch (function) {
      case "init_iova_domain" -> onInitIovaDomain(ctx);
      case "reserve_iova" -> {
        long domain = kernel.domainOfIovad(fields.hex("iovad="));
        emit(
            EventType.IOVA_RESERVE,
            event,
            domain,
            kernel.soleDevice(domain),
            Attribution.TRACE,
            new IovaRange(fields.hex("pfn_lo="), fields.hex("pfn_hi=")));
      }
      case "alloc_iova_fast" -> {
        if (ret) onAllocIovaFastReturn(ctx, event);
        else onAllocIovaFast(ctx, event);
      }
      case "alloc_iova" -> {
        if (ret) onAllocIovaReturn(ctx, event);
        else onAllocIova(ctx, event);
      }
      case "free_iova_fast" -> onFreeIova(ctx, event, IovaPath.FAST, fields.number("size="));
      case "free_iova" -> onFreeIova(ctx, event, IovaPath.RBTREE, null);
      case "remove_iova" -> {
        long domain = kernel.domainOfIovad(fields.hex("iovad="));
        emit(
            EventType.IOVA_REMOVE,
            event,
            domain,
            kernel.soleDevice(domain),
            Attribution.TRACE,
            new IovaRange(fields.hex("pfn_lo="), fields.hex("pfn_hi=")));
      }
      case "fq_flush_timeout" -> onFqTimeout(ctx, event);
      case "fq_flush_iotlb" -> onFqFlush(ctx, event);
      case "fq_ring_free" -> onFqRingFree(ctx, event);
      case "queue_iova" -> onQueueIova(ctx, event);
      case "intel_flush_iotlb_all" -> onFlushAll(ctx, event);
      case "intel_iommu_tlb_sync" -> onTlbSync(ctx, event);
      case "iommu_flush_iotlb_psi" -> onFlushPsi(ctx, event);
      case "__iommu_dma_map" -> {
        if (ret) onDmaMapReturn(ctx, event);
        else onDmaMapCall(ctx, event);
      }
      case "__iommu_dma_unmap" ->
          onDmaUnmapCall(ctx, event, DmaCall.UNMAP, EventType.DMA_UNMAP, "dma=");
      case "iommu_dma_map_sg" -> {
        if (ret) onDmaMapSgReturn(ctx, event);
        else onDmaMapSgCall(ctx, event);
      }
      case "iommu_dma_unmap_sg" ->
          onDmaUnmapCall(ctx, event, DmaCall.UNMAP_SG, EventType.DMA_UNMAP_SG, "sg_dma=");
      default -> stats.countUnknown("kprobe:" + function + (ret ? " (return)" : ""));
    }
  }

  private void onInitIovaDomain(CpuContext ctx) throws MalformedLineException {
    long iovad = fields.hex("iovad=");
    long granule = fields.number("granule=");
    long startPfn =
        fields.hex("start_pfn="); // all fields before any state changes: a bad line changes nothing
    long domain = kernel.newDomain();
    kernel.bindIovad(iovad, domain, granule);
    // iommu_setup_dma_ops → iommu_dma_init_domain runs for the group being attached, right after
    // its devices' attach_device_to_domain lines on this CPU.
    String first = ctx.attachedDevices.isEmpty() ? null : ctx.attachedDevices.get(0);
    for (String device : ctx.attachedDevices) kernel.bindDevice(device, domain);
    ctx.attachedDevices.clear();
    // A group's direct (RMRR) mappings are made before its devices attach:
    // iommu_create_device_direct_mappings.
    resolveWaiting(ctx, h -> h.event.getType() == EventType.MAP, domain, first);
    emit(
        EventType.IOVA_DOMAIN_INIT,
        line.event(),
        domain,
        first,
        first == null ? Attribution.TRACE : Attribution.CPU_CONTEXT,
        new IovaDomainInit(granule, startPfn, iovad, first == null ? null : kernel.groupOf(first)));
  }

  private void onAllocIovaFast(CpuContext ctx, String event) throws MalformedLineException {
    long domain = kernel.domainOfIovad(fields.hex("iovad="));
    ctx.endFlushChain();
    ctx.allocRequested = true;
    ctx.allocDomain = domain;
    ctx.allocPages = fields.number("size=");
    ctx.allocLimitPfn = fields.hex("limit_pfn=");
    ctx.allocFlushRcache = fields.has("flush_rcache=") && fields.number("flush_rcache=") != 0;
    ctx.allocMissedCache = false;
    String device = null;
    if (ctx.call == DmaCall.MAP || ctx.call == DmaCall.MAP_SG) {
      device = ctx.callDevice;
      kernel.bindDevice(device, domain);
    }
    emit(
        EventType.IOVA_ALLOC_REQUEST,
        event,
        domain,
        device != null ? device : kernel.soleDevice(domain),
        Attribution.TRACE,
        new IovaAllocation(
            IovaPath.FAST,
            ctx.allocPages,
            ctx.allocLimitPfn,
            null,
            null,
            true,
            ctx.allocFlushRcache));
  }

  private void onAllocIovaFastReturn(CpuContext ctx, String event) throws MalformedLineException {
    Long pfn = fields.faulted("pfn=") ? null : fields.hex("pfn=");
    if (pfn != null && pfn == 0) pfn = null; // alloc_iova_fast returns 0 on failure
    long domain = ctx.allocRequested ? ctx.allocDomain : -1;
    IovaAllocation payload =
        ctx.allocRequested
            ? new IovaAllocation(
                IovaPath.FAST,
                ctx.allocPages,
                ctx.allocLimitPfn,
                pfn,
                !ctx.allocMissedCache,
                true,
                ctx.allocFlushRcache)
            : new IovaAllocation(IovaPath.FAST, 0L, 0L, pfn, null, true, false);
    if (ctx.allocRequested && pfn != null) {
      ctx.allocatedDomain = domain;
      ctx.allocatedPfn = pfn;
      ctx.allocatedPages = ctx.allocPages;
    }
    ctx.allocRequested = false;
    emit(
        EventType.IOVA_ALLOC,
        event,
        domain,
        domain >= 0 ? deviceOfCall(ctx, domain) : null,
        domain >= 0 ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        payload);
  }

  private void onAllocIova(CpuContext ctx, String event) throws MalformedLineException {
    long domain = kernel.domainOfIovad(fields.hex("iovad="));
    ctx.rbtreeRequested = true;
    ctx.rbtreeDomain = domain;
    ctx.rbtreePages = fields.number("size=");
    ctx.rbtreeLimitPfn = fields.hex("limit_pfn=");
    ctx.rbtreeSizeAligned = !fields.has("size_aligned=") || fields.number("size_aligned=") != 0;
    if (ctx.allocRequested && ctx.allocDomain == domain) ctx.allocMissedCache = true;
    emit(
        EventType.IOVA_ALLOC_REQUEST,
        event,
        domain,
        deviceOfCall(ctx, domain),
        Attribution.TRACE,
        new IovaAllocation(
            IovaPath.RBTREE,
            ctx.rbtreePages,
            ctx.rbtreeLimitPfn,
            null,
            null,
            ctx.rbtreeSizeAligned,
            false));
  }

  private void onAllocIovaReturn(CpuContext ctx, String event) throws MalformedLineException {
    // alloc_iova returns NULL on failure; the probe then cannot read pfn_lo and prints (fault).
    Long pfnLo = fields.faulted("pfn_lo=") ? null : fields.hex("pfn_lo=");
    Long pfnHi = fields.faulted("pfn_hi=") ? null : fields.hex("pfn_hi=");
    long domain = ctx.rbtreeRequested ? ctx.rbtreeDomain : -1;
    long pages =
        ctx.rbtreeRequested
            ? ctx.rbtreePages
            : (pfnLo != null && pfnHi != null ? pfnHi - pfnLo + 1 : 0);
    ctx.rbtreeRequested = false;
    emit(
        EventType.IOVA_ALLOC,
        event,
        domain,
        domain >= 0 ? deviceOfCall(ctx, domain) : null,
        domain >= 0 ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        new IovaAllocation(
            IovaPath.RBTREE, pages, ctx.rbtreeLimitPfn, pfnLo, null, ctx.rbtreeSizeAligned, false));
  }

  private void onFreeIova(CpuContext ctx, String event, IovaPath path, Long pages)
      throws MalformedLineException {
    long domain = kernel.domainOfIovad(fields.hex("iovad="));
    long pfn = fields.hex("pfn=");
    // Strict unmap frees its IOVA right after the flush (iommu_dma_free_iova): it names the domain
    // of an unmap whose dma-iommu kprobe was missed.
    resolveWaitingUnmap(ctx, domain, u -> u.getIova() / kernel.granule(domain) == pfn);
    emit(
        EventType.IOVA_FREE,
        event,
        domain,
        kernel.soleDevice(domain),
        Attribution.TRACE,
        new IovaFree(path, pfn, pages));
  }

  private void onFqTimeout(CpuContext ctx, String event) throws MalformedLineException {
    long timer = fields.hex("timer=");
    // A timer flush starts: an unmap still waiting for its fq_ring_free had that probe hit missed,
    // and the fq_ring_free lines that follow are this flush's reaps, not its enqueue.
    ctx.unmapPending = false;
    ctx.flushTrigger = FlushTrigger.FQ_TIMER;
    ctx.flushTimer = timer;
    ctx.flushDomain = kernel.domainOfTimer(timer);
    emit(
        EventType.FQ_TIMEOUT,
        event,
        ctx.flushDomain,
        null,
        ctx.flushDomain >= 0 ? Attribution.INFERRED : Attribution.MISSING,
        new FlushQueueOp(null, null, null, timer, FlushTrigger.UNKNOWN));
  }

  private void onFqFlush(CpuContext ctx, String event) throws MalformedLineException {
    long cookie = fields.hex("cookie=");
    long domain = kernel.domainOfCookie(cookie);
    ctx.unmapPending = false; // as in onFqTimeout: what follows are reaps
    // fq_flush_iotlb runs from the timer (fq_flush_timeout) or from queue_iova when the ring is
    // full.
    if (ctx.flushTrigger == FlushTrigger.FQ_TIMER) {
      kernel.learnTimer(ctx.flushTimer, domain);
    } else {
      ctx.flushTrigger = ctx.justEnqueued ? FlushTrigger.FQ_FULL : FlushTrigger.UNKNOWN;
    }
    ctx.flushDomain = domain;
    emit(
        EventType.FQ_FLUSH,
        event,
        domain,
        kernel.soleDevice(domain),
        Attribution.TRACE,
        new FlushQueueOp(null, null, null, cookie, ctx.flushTrigger));
  }

  private void onFqRingFree(CpuContext ctx, String event) throws MalformedLineException {
    long cookie = fields.hex("cookie=");
    Long queue = fields.has("fq=") ? (Long) fields.hex("fq=") : null;
    long domain = kernel.domainOfCookie(cookie);
    if (ctx.unmapPending) {
      // queue_iova() starts with fq_ring_free(): this line is the lazy unmap being queued.
      ctx.unmapPending = false;
      ctx.justEnqueued = true;
      resolveWaitingUnmap(ctx, domain, u -> true);
      emit(
          EventType.FQ_ENQUEUE,
          event,
          domain,
          kernel.soleDevice(domain),
          Attribution.TRACE,
          new FlushQueueOp(ctx.unmapIova, ctx.unmapSize, queue, cookie, FlushTrigger.UNKNOWN));
    } else {
      ctx.justEnqueued = false;
      emit(
          EventType.FQ_REAP,
          event,
          domain,
          kernel.soleDevice(domain),
          Attribution.TRACE,
          new FlushQueueOp(null, null, queue, cookie, FlushTrigger.UNKNOWN));
    }
  }

  /** A queue_iova kprobe (kernels where it is not inlined): the range being queued. */
  private void onQueueIova(CpuContext ctx, String event) throws MalformedLineException {
    long cookie = fields.hex("cookie=");
    long domain = kernel.domainOfCookie(cookie);
    long granule = kernel.granule(domain);
    long iova = fields.hex("pfn=") * granule;
    long size = fields.number("pages=") * granule;
    ctx.unmapPending = false;
    ctx.justEnqueued = true;
    resolveWaitingUnmap(ctx, domain, u -> true);
    emit(
        EventType.FQ_ENQUEUE,
        event,
        domain,
        kernel.soleDevice(domain),
        Attribution.TRACE,
        new FlushQueueOp(iova, size, null, cookie, FlushTrigger.UNKNOWN));
  }

  private void onFlushAll(CpuContext ctx, String event) throws MalformedLineException {
    long pointer = fields.hex("domain=");
    long domain = ctx.flushDomain;
    if (domain >= 0) kernel.learnIommuDomain(pointer, domain);
    else domain = kernel.domainOfIommuDomain(pointer);
    ctx.flushDomain = domain;
    if (ctx.flushTrigger == FlushTrigger.UNKNOWN) ctx.flushTrigger = FlushTrigger.EXPLICIT;
    emit(
        EventType.IOTLB_FLUSH_REQUEST,
        event,
        domain,
        domain >= 0 ? kernel.soleDevice(domain) : null,
        domain >= 0 ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        request(FlushScope.DOMAIN, 0, 0, false, ctx.flushTrigger));
  }

  private void onTlbSync(CpuContext ctx, String event) throws MalformedLineException {
    long pointer = fields.hex("domain=");
    long start = fields.hex("start=");
    long end = fields.hex("end=");
    // iommu_unmap → iotlb_sync: in strict mode this follows the unmap on the same context.
    long domain =
        ctx.unmapPending && ctx.unmapDomain >= 0
            ? ctx.unmapDomain
            : kernel.domainOfIommuDomain(pointer);
    if (domain >= 0) kernel.learnIommuDomain(pointer, domain);
    resolveWaitingUnmap(ctx, domain, u -> true);
    ctx.unmapPending = false;
    ctx.flushTrigger = FlushTrigger.SYNC;
    ctx.flushDomain = domain;
    emit(
        EventType.IOTLB_FLUSH_REQUEST,
        event,
        domain,
        domain >= 0 ? kernel.soleDevice(domain) : null,
        domain >= 0 ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        request(FlushScope.PAGE, start, end - start + 1, false, FlushTrigger.SYNC));
  }

  private void onFlushPsi(CpuContext ctx, String event) throws MalformedLineException {
    long pointer = fields.hex("domain=");
    long pfn = fields.hex("pfn=");
    long pages = fields.number("pages=");
    boolean ih = fields.has("ih=") && fields.number("ih=") != 0;
    long domain = ctx.flushDomain;
    if (domain >= 0) kernel.learnDmarDomain(pointer, domain);
    else domain = kernel.domainOfDmarDomain(pointer);
    if (ctx.flushTrigger == FlushTrigger.UNKNOWN) ctx.flushTrigger = FlushTrigger.EXPLICIT;
    ctx.flushDomain = domain;
    emit(
        EventType.IOTLB_FLUSH_REQUEST,
        event,
        domain,
        domain >= 0 ? kernel.soleDevice(domain) : null,
        domain >= 0 ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        request(FlushScope.PAGE, pfn << 12, pages << 12, ih, ctx.flushTrigger));
  }

  private static IotlbInvalidation request(
      FlushScope scope, long iova, long size, boolean leafOnly, FlushTrigger trigger) {
    return new IotlbInvalidation(
        scope, iova, size, -1, leafOnly, null, null, null, null, trigger, List.of());
  }

  private void onDmaMapCall(CpuContext ctx, String event) throws MalformedLineException {
    String device = fields.string("dev=");
    Integer prot = fields.has("prot=") ? (int) fields.number("prot=") : null;
    startCall(ctx, DmaCall.MAP, device, 0);
    ctx.callProt = prot == null ? 0 : prot;
    emit(
        EventType.DMA_MAP,
        event,
        kernel.boundDomainOfDevice(device),
        device,
        Attribution.TRACE,
        new DmaApiCall(
            null,
            fields.number("size="),
            fields.hex("phys="),
            null,
            null,
            prot,
            fields.has("dma_mask=") ? fields.hex("dma_mask=") : null,
            null,
            null));
  }

  private void onDmaMapReturn(CpuContext ctx, String event) throws MalformedLineException {
    long dma = fields.hex("dma=");
    String device = ctx.call == DmaCall.MAP ? ctx.callDevice : null;
    ctx.call = DmaCall.NONE;
    long domain = kernel.boundDomainOfDevice(device);
    emit(
        EventType.DMA_MAP_DONE,
        event,
        domain,
        device,
        device != null ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        new DmaApiCall(dma, null, null, null, null, null, null, null, null));
  }

  private void onDmaMapSgCall(CpuContext ctx, String event) throws MalformedLineException {
    String device = fields.string("dev=");
    String dir = fields.has("dir=") ? fields.string("dir=") : null;
    startCall(ctx, DmaCall.MAP_SG, device, 0);
    ctx.callProt = protOfDirection(dir);
    emit(
        EventType.DMA_MAP_SG,
        event,
        kernel.boundDomainOfDevice(device),
        device,
        Attribution.TRACE,
        new DmaApiCall(
            null,
            null,
            null,
            dir,
            null,
            null,
            null,
            fields.has("nents=") ? (int) fields.number("nents=") : null,
            null));
  }

  private void onDmaMapSgReturn(CpuContext ctx, String event) throws MalformedLineException {
    String device = ctx.call == DmaCall.MAP_SG ? ctx.callDevice : null;
    ctx.call = DmaCall.NONE;
    emit(
        EventType.DMA_MAP_SG_DONE,
        event,
        kernel.boundDomainOfDevice(device),
        device,
        device != null ? Attribution.CPU_CONTEXT : Attribution.MISSING,
        new DmaApiCall(
            null, null, null, null, null, null, null, null, (int) fields.number("mapped=")));
  }

  private void onDmaUnmapCall(
      CpuContext ctx, String event, DmaCall call, EventType type, String addrKey)
      throws MalformedLineException {
    String device = fields.string("dev=");
    long dma = fields.hex(addrKey);
    Long size = null; // a nested ?: would unbox the null
    if (fields.has("size=")) size = fields.number("size=");
    else if (fields.has("sg_dma_len=")) size = fields.number("sg_dma_len=");
    startCall(ctx, call, device, dma);
    emit(
        type,
        event,
        kernel.boundDomainOfDevice(device),
        device,
        Attribution.TRACE,
        new DmaApiCall(
            dma,
            size,
            null,
            fields.has("dir=") ? fields.string("dir=") : null,
            null,
            null,
            null,
            fields.has("nents=") ? (int) fields.number("nents=") : null,
            null));
  }

  /**
   * IOMMU_READ/IOMMU_WRITE for a DMA direction as the kprobe prints it (enum dma_data_direction: 0
   * bidirectional, 1 to device, 2 from device), as dma_info_to_prot() in dma-iommu.c derives them.
   * The IOMMU_CACHE bit depends on the device's coherency, which the line does not say.
   */
  private static int protOfDirection(String dir) {
    if (dir == null) return 0;
    return switch (dir) {
      case "0" -> 3;
      case "1" -> 1;
      case "2" -> 2;
      default -> 0;
    };
  }

  private void startCall(CpuContext ctx, DmaCall call, String device, long dmaAddr) {
    expireWaiting(ctx);
    ctx.endFlushChain();
    ctx.unmapPending = false;
    ctx.justEnqueued = false;
    ctx.call = call;
    ctx.callDevice = device;
    ctx.callDmaAddr = dmaAddr;
    ctx.callProt = 0;
  }

  private String deviceOfCall(CpuContext ctx, long domain) {
    boolean inMap = ctx.call == DmaCall.MAP || ctx.call == DmaCall.MAP_SG;
    return inMap ? ctx.callDevice : kernel.soleDevice(domain);
  }

  // ---- attribution of held events ----

  private void resolveWaitingUnmap(CpuContext ctx, long domain, Predicate<Unmapping> matches) {
    if (domain < 0) return;
    Predicate<HeldEvent> unmap =
        h -> h.event.getPayload() instanceof Unmapping u && matches.test(u);
    // The unmap's call named a device whose domain was not known yet: this is that device's domain.
    if (ctx.unmapDevice != null
        && kernel.boundDomainOfDevice(ctx.unmapDevice) < 0
        && ctx.waiting.stream().anyMatch(h -> h.waiting && unmap.test(h))) {
      kernel.bindDevice(ctx.unmapDevice, domain);
    }
    boolean resolved = resolveWaiting(ctx, unmap, domain, kernel.soleDevice(domain));
    if (resolved) ctx.unmapDomain = domain;
  }

  /**
   * Gives the waiting events of {@code ctx} that {@code matches} accepts their domain and device.
   */
  private boolean resolveWaiting(
      CpuContext ctx, Predicate<HeldEvent> matches, long domain, String device) {
    if (ctx.waiting.isEmpty()) return false;
    boolean any = false;
    for (HeldEvent h : ctx.waiting) {
      if (!h.waiting || !matches.test(h)) continue;
      h.event.setDomain(domain);
      h.event.setDevice(device);
      h.event.setAttribution(Attribution.INFERRED);
      h.waiting = false;
      stats.countMapUnmap(Attribution.INFERRED);
      trackLive(h.event);
      any = true;
    }
    ctx.waiting.removeIf(h -> !h.waiting);
    drainHeld();
    return any;
  }

  private void trackLive(IommuEvent e) {
    if (e.getPayload() instanceof Mapping m) live.mapped(e.getDomain(), m.getIova(), m.getSize());
    else if (e.getPayload() instanceof Unmapping u)
      live.unmapped(e.getDomain(), u.getIova(), u.getSize());
  }

  /** A new call on a context ends the chance of what waited on it. */
  private void expireWaiting(CpuContext ctx) {
    if (ctx.waiting.isEmpty()) return;
    for (HeldEvent h : ctx.waiting) giveUp(h);
    ctx.waiting.clear();
    drainHeld();
  }

  private void giveUp(HeldEvent h) {
    if (!h.waiting) return;
    h.waiting = false;
    stats.countMapUnmap(Attribution.MISSING);
  }

  private void expireHeld() {
    HeldEvent head = held.peekFirst();
    if (head != null && head.waiting && head.deadlineLine <= seqOffset + lineNumber) {
      giveUp(head);
      drainHeld();
    }
  }

  private void drainHeld() {
    while (!held.isEmpty() && !held.peekFirst().waiting) sink.event(held.pollFirst().event);
  }

  // ---- output ----

  private void emit(
      EventType type,
      String source,
      long domain,
      String device,
      Attribution attribution,
      Object payload) {
    stats.countEvent(source, type);
    emit(newEvent(type, source, domain, device, attribution, payload));
  }

  private void emit(IommuEvent event) {
    if (held.isEmpty()) sink.event(event);
    else held.add(new HeldEvent(event, 0, false));
  }

  private IommuEvent newEvent(
      EventType type,
      String source,
      long domain,
      String device,
      Attribution attribution,
      Object payload) {
    return new IommuEvent(
        host,
        seqOffset + lineNumber,
        line.tsNs(),
        line.cpu(),
        type,
        source,
        domain,
        device,
        attribution,
        payload);
  }

  private CpuContext context() {
    int key = line.cpu() * 4 + line.irqLevel();
    if (key >= contexts.length)
      contexts = Arrays.copyOf(contexts, Math.max(key + 1, contexts.length * 2));
    CpuContext ctx = contexts[key];
    if (ctx == null) contexts[key] = ctx = new CpuContext();
    return ctx;
  }

  private static long alignDown(long address, long granule) {
    return address & -granule;
  }

  private static long decimal(String word) throws MalformedLineException {
    try {
      return Long.parseLong(word);
    } catch (NumberFormatException e) {
      throw new MalformedLineException("bad number " + word);
    }
  }

  private static long parseHexWord(String word) throws MalformedLineException {
    String digits = word.startsWith("0x") ? word.substring(2) : word;
    try {
      return Long.parseUnsignedLong(digits, 16);
    } catch (NumberFormatException e) {
      throw new MalformedLineException("bad descriptor word " + word);
    }
  }
}
