package io.iommureplay.generate;

import io.iommureplay.model.Domain;
import io.iommureplay.model.FreedTable;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.ReservedRegions;
import io.iommureplay.model.flushqueue.FlushQueue;
import io.iommureplay.model.flushqueue.FlushQueueParams;
import io.iommureplay.model.iotlb.IotlbListener;
import io.iommureplay.model.iotlb.StaleTable;
import io.iommureplay.model.iotlb.Window;
import io.iommureplay.model.iova.FragmentationSample;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.sva.PasidSpace;
import io.iommureplay.schema.DeviceAccess;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Unmapping;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Replays a generated trace through {@link IommuModel} (one per host, configured as the generator
 * was: VT-d 4 levels, per-CPU flush queues over the generator's possible CPUs) with a listener that
 * records what the model saw, by host: the events the model objected to, the windows, the flush
 * queues' and allocators' agreement with the trace.
 */
final class GeneratedReplay {
  /** What the model told, for one host. */
  static final class Host implements ModelListener {
    final String name;
    final IommuModel model;
    final List<Long> mapsOverLive = new ArrayList<>();
    final List<Long> unmapsOfUnmapped = new ArrayList<>();
    final List<Long> unmapSizeMismatches = new ArrayList<>();
    final List<Long> partialLargePages = new ArrayList<>();
    final List<Long> staleAccesses = new ArrayList<>();
    final List<Long> reservedMaps = new ArrayList<>();
    final List<Long> pasidMisuses = new ArrayList<>();
    final List<Long> tablesFreedWhileCached = new ArrayList<>();
    final Map<Long, String> staleTables = new HashMap<>();
    final List<Long> partlyFlushed = new ArrayList<>();
    final List<Long> detachesWithOpenWindows = new ArrayList<>();
    final List<String> notApplied = new ArrayList<>();

    /** DEVICE_ACCESS events (without PASID) that touched IOVAs not mapped at the time. */
    final List<Long> unmappedAccesses = new ArrayList<>();

    /** Failed IOVA_ALLOCs: seq → the model allocator's free space below the request's limit. */
    final Map<Long, FragmentationSample> failedAllocs = new TreeMap<>();

    /** Per DMA domain, fragmentation index below 4 GiB sampled every 10 ms: {tsNs, index}. */
    final Map<Long, List<double[]>> fragmentation = new TreeMap<>();

    /** Kept events by seq (when asked for). */
    final Map<Long, IommuEvent> bySeq = new HashMap<>();

    boolean keep;
    private long nextSampleNs;

    /** Physical pages of open windows → how many windows (by domain) hold them. */
    private final Map<Long, Map<Long, Integer>> windowPages = new HashMap<>();

    /** MAPs of a page an open window of the same domain holds. */
    final List<Long> physReuseSameDomain = new ArrayList<>();

    /** MAPs of a page an open window of another domain holds. */
    final List<Long> physReuseCrossDomain = new ArrayList<>();

    /** Window lengths by the closing cause; the opening unmap's seq → its length. */
    final Map<IotlbListener.Closure, List<Long>> windowNs =
        new EnumMap<>(IotlbListener.Closure.class);

    /** Closed windows by the seq of their unmap: how long they were open. */
    final Map<Long, Long> windowOfUnmap = new HashMap<>();

    /** Closed windows by the seq of their unmap: the event that closed them. */
    final Map<Long, Long> closerOf = new HashMap<>();

    /** Unmaps (seqs) whose windows were in lazy domains. */
    final java.util.Set<Long> lazyWindows = new java.util.HashSet<>();

    /** Windows whose closing flush was not on the unmap's own CPU. */
    long closedByOtherCpu;

    long windowsOpened;
    long tablesFreed;
    long events;
    final Map<EventType, Long> eventsByType = new EnumMap<>(EventType.class);
    private final Map<Long, Integer> cpuOfEvent = new HashMap<>();

    Host(String name, ModelConfig config) {
      this.name = name;
      this.model = new IommuModel(config, this);
    }

    void apply(IommuEvent e) {
      events++;
      eventsByType.merge(e.getType(), 1L, Long::sum);
      if (e.getType() == EventType.IOTLB_FLUSH) cpuOfEvent.put(e.getSeq(), e.getCpu());
      if (keep) bySeq.put(e.getSeq(), e);
      if (e.getType() == EventType.DEVICE_ACCESS) checkMapped(e);
      if (e.getType() == EventType.MAP) checkPhysReuse(e);
      model.apply(e);
      if (e.getType() == EventType.IOVA_ALLOC) {
        IovaAllocation a = (IovaAllocation) e.getPayload();
        Domain d = model.domain(e.getDomain());
        if (a.getPfn() == null && d != null && d.iova() != null) {
          failedAllocs.put(e.getSeq(), d.iova().allocator().fragmentation(a.getLimitPfn()));
        }
      }
      if (e.getTsNs() >= nextSampleNs) {
        nextSampleNs = e.getTsNs() + 10_000_000L;
        for (Domain d : model.domains()) {
          if (d.iova() == null) continue;
          double index = d.iova().allocator().fragmentation(0xfffffL).fragmentationIndex();
          fragmentation
              .computeIfAbsent(d.id(), k -> new ArrayList<>())
              .add(new double[] {e.getTsNs(), index});
        }
      }
    }

    private void checkPhysReuse(IommuEvent e) {
      Mapping m = (Mapping) e.getPayload();
      if (m.getSize() > (64L << 20)) return; // static guest RAM and such
      boolean same = false;
      boolean cross = false;
      for (long p = m.getPaddr(); p < m.getPaddr() + m.getSize(); p += 4096) {
        Map<Long, Integer> holders = windowPages.get(p);
        if (holders == null) continue;
        for (long d : holders.keySet()) {
          if (d == e.getDomain()) same = true;
          else cross = true;
        }
      }
      if (same) physReuseSameDomain.add(e.getSeq());
      if (cross) physReuseCrossDomain.add(e.getSeq());
    }

    private void windowPages(Window w, int delta) {
      if (w.size() > (64L << 20)) return;
      for (long iova = w.iova() & -4096L; iova < w.iova() + w.size(); iova += 4096) {
        long p = w.paddr(iova);
        if (p == Window.NO_PADDR) continue;
        Map<Long, Integer> holders = windowPages.computeIfAbsent(p & -4096L, k -> new HashMap<>());
        holders.merge(w.domain(), delta, Integer::sum);
        if (holders.get(w.domain()) <= 0) holders.remove(w.domain());
        if (holders.isEmpty()) windowPages.remove(p & -4096L);
      }
    }

    private void checkMapped(IommuEvent e) {
      DeviceAccess a = (DeviceAccess) e.getPayload();
      if (a.getPasid() != null) return;
      Domain d = model.domain(e.getDomain());
      if (d == null || d.pageTable().mappedBytes(a.getIova(), a.getSize()) < a.getSize()) {
        unmappedAccesses.add(e.getSeq());
      }
    }

    /** The unmaps (seqs) whose windows are still open. */
    java.util.Set<Long> openWindowSeqs() {
      java.util.Set<Long> seqs = new java.util.TreeSet<>();
      for (Domain d : model.domains()) model.forEachOpenWindow(d.id(), w -> seqs.add(w.seq()));
      return seqs;
    }

    @Override
    public void mapped(IommuEvent event, Domain domain, Mapping map, MapResult result) {
      if (result.hitLiveMapping()) mapsOverLive.add(event.getSeq());
    }

    @Override
    public void unmapped(IommuEvent event, Domain domain, Unmapping unmap, UnmapResult result) {
      if (result.notMappedBytes() > 0) unmapsOfUnmapped.add(event.getSeq());
      if (result.unmappedSize() != unmap.getUnmappedSize()) unmapSizeMismatches.add(event.getSeq());
      if (result.partialLargePage() != UnmapResult.PartialLargePage.NONE) {
        partialLargePages.add(event.getSeq());
      }
    }

    @Override
    public void windowOpened(IommuEvent unmap, Domain domain, Window window) {
      windowsOpened++;
      windowPages(window, 1);
    }

    @Override
    public void windowClosed(
        Window window, long openNs, long closeSeq, IotlbListener.Closure cause) {
      windowNs.computeIfAbsent(cause, c -> new ArrayList<>()).add(openNs);
      windowPages(window, -1);
      windowOfUnmap.put(window.seq(), openNs);
      closerOf.put(window.seq(), closeSeq);
      Domain d = model.domain(window.domain());
      if (d != null && d.isLazy()) lazyWindows.add(window.seq());
      Integer flushCpu = cpuOfEvent.get(closeSeq);
      if (flushCpu != null && flushCpu != window.cpu()) closedByOtherCpu++;
    }

    @Override
    public void windowPartlyFlushed(Window window, long missedBytes, long flushSeq) {
      partlyFlushed.add(flushSeq);
    }

    @Override
    public void staleAccess(
        IommuEvent access, Domain domain, Window window, long first, long last) {
      staleAccesses.add(access.getSeq());
    }

    @Override
    public void detached(IommuEvent event, Domain domain, String device) {
      long[] open = {0};
      model.forEachOpenWindow(domain.id(), w -> open[0]++);
      if (open[0] > 0) detachesWithOpenWindows.add(event.getSeq());
    }

    @Override
    public void tableFreed(IommuEvent at, Domain domain, FreedTable table, StaleTable stillCached) {
      tablesFreed++;
      if (stillCached != null) {
        tablesFreedWhileCached.add(at.getSeq());
        staleTables.put(at.getSeq(), stillCached + " table " + table);
      }
    }

    @Override
    public void reservedRegionMapped(
        IommuEvent event, Domain domain, Mapping map, ReservedRegions.Region region) {
      reservedMaps.add(event.getSeq());
    }

    @Override
    public void pasidMisused(IommuEvent event, String device, int pasid, PasidSpace.Problem p) {
      pasidMisuses.add(event.getSeq());
    }

    @Override
    public void notApplied(IommuEvent event, String reason) {
      notApplied.add(event.getSeq() + ": " + reason);
    }

    /** Windows still open at the end, by domain. */
    Map<Long, Long> openWindows() {
      Map<Long, Long> open = new TreeMap<>();
      for (Domain d : model.domains()) {
        model.forEachOpenWindow(d.id(), w -> open.merge(d.id(), 1L, Long::sum));
      }
      return open;
    }

    /** Allocations the model's allocator replay did not choose as the trace did. */
    long allocatorDisagreements() {
      long n = 0;
      for (Domain d : model.domains()) {
        if (d.iova() != null) n += d.iova().allocations() - d.iova().agreed();
      }
      return n;
    }

    long allocations() {
      long n = 0;
      for (Domain d : model.domains()) if (d.iova() != null) n += d.iova().allocations();
      return n;
    }

    long inferredFrees() {
      long n = 0;
      for (Domain d : model.domains()) if (d.iova() != null) n += d.iova().inferredFrees();
      return n;
    }

    /** Flush-queue flushes predicted and observed, summed over the lazy domains. */
    long[] flushes() {
      long[] f = new long[4];
      for (Domain d : model.domains()) {
        FlushQueue q = d.flushQueue();
        if (q == null) continue;
        f[0] += q.count(FlushQueue.Stat.TIMER_FLUSHES);
        f[1] += q.count(FlushQueue.Stat.OBSERVED_TIMER_FLUSHES);
        f[2] += q.count(FlushQueue.Stat.FULL_FLUSHES);
        f[3] += q.count(FlushQueue.Stat.OBSERVED_FULL_FLUSHES);
      }
      return f;
    }

    long divergences() {
      long n = 0;
      for (Domain d : model.domains()) {
        FlushQueue q = d.flushQueue();
        if (q == null) continue;
        n += q.count(FlushQueue.Stat.UNMATCHED_OBSERVED_FLUSHES);
        n += q.count(FlushQueue.Stat.UNCONFIRMED_PREDICTED_FLUSHES);
      }
      return n;
    }
  }

  final Map<String, Host> hosts = new TreeMap<>();
  final List<Label> labels;
  final GeneratorOptions options;

  private GeneratedReplay(GeneratorOptions options, List<Label> labels) {
    this.options = options;
    this.labels = labels;
  }

  static ModelConfig config(GeneratorOptions options) {
    return ModelConfig.defaults().withFlushQueue(FlushQueueParams.PER_CPU, options.possibleCpus());
  }

  /** Generates the trace of {@code options} and replays it; {@code also} sees every event. */
  static GeneratedReplay run(GeneratorOptions options, Consumer<IommuEvent> also) {
    return run(options, also, false);
  }

  /** As {@link #run(GeneratorOptions, Consumer)}; {@code keep}: index every event by seq. */
  static GeneratedReplay run(GeneratorOptions options, Consumer<IommuEvent> also, boolean keep) {
    ModelConfig config = config(options);
    Map<String, Host> hosts = new TreeMap<>();
    WorkloadGenerator g = new WorkloadGenerator(options);
    while (g.hasNext()) {
      IommuEvent e = g.next();
      Host host =
          hosts.computeIfAbsent(
              e.getHost(),
              n -> {
                Host created = new Host(n, config);
                created.keep = keep;
                return created;
              });
      host.apply(e);
      also.accept(e);
    }
    GeneratedReplay r = new GeneratedReplay(options, List.copyOf(g.labels()));
    for (Host h : hosts.values()) h.model.finish();
    r.hosts.putAll(hosts);
    return r;
  }

  static GeneratedReplay run(GeneratorOptions options) {
    return run(options, e -> {});
  }

  Host host(String name) {
    return hosts.get(name);
  }

  long total(java.util.function.ToLongFunction<Host> f) {
    long n = 0;
    for (Host h : hosts.values()) n += f.applyAsLong(h);
    return n;
  }
}
