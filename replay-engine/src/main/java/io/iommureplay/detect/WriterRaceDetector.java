package io.iommureplay.detect;

import io.iommureplay.model.Domain;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.pagetable.MapResult;
import io.iommureplay.model.pagetable.UnmapResult;
import io.iommureplay.model.pagetable.UnmapResult.PartialLargePage;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Severity;
import io.iommureplay.schema.TableFreeMode;
import io.iommureplay.schema.TablePage;
import io.iommureplay.schema.TableWalk;
import io.iommureplay.schema.Unmapping;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The overlapping-range writer-race detectors (SPEC "Detectors → Overlapping-range writer races").
 * Linux page-table code takes no lock for a range: callers must never map or unmap overlapping
 * ranges concurrently, and hand a range over only through the IOVA allocator (free, then allocate).
 * These report where a trace shows that rule broken, and what the page-table code does with a
 * caller's mistakes (mapping over a live leaf, unmapping a hole, splitting a large page).
 */
final class WriterRaceDetector implements ModelListener {
  /** How many unattributed maps are remembered to explain an unmap of "unmapped" memory. */
  private static final int UNATTRIBUTED_KEPT = 4096;

  private final String host;
  private final Detections out;
  private final Map<Long, DomainOps> domains = new HashMap<>();

  /** Maps the importer could not attribute: an unmap of their range in any domain is explained. */
  private final NavigableMap<Long, Long> unattributedMaps = new TreeMap<>();

  /** The last operation on each IOVA range of a domain, and the allocations since. */
  private static final class DomainOps {
    final NavigableMap<Long, Op> byIova = new TreeMap<>();
    final NavigableMap<Long, long[]> allocations = new TreeMap<>(); // iova → {end, seq}
    final Map<String, Install> installs = new HashMap<>();
    final List<Walk> walks = new ArrayList<>(1);
    boolean allocatorSeen;
  }

  private record Op(
      EventType type, int cpu, long seq, long startNs, long endNs, long iova, long end) {}

  private record Install(long tableAddress, int cpu, long seq, long tsNs) {}

  /** A concurrent install of one slot, waiting to learn whether the loser's page was freed. */
  private record InstallRace(long domain, TablePage table, Install first, Install second) {}

  private record Walk(TableWalk walk, long startNs, long seq) {}

  private final List<InstallRace> installRaces = new ArrayList<>();

  WriterRaceDetector(String host, Detections out) {
    this.host = host;
    this.out = out;
  }

  @Override
  public void mapped(IommuEvent event, Domain domain, Mapping map, MapResult result) {
    if (result.hitLiveMapping()) {
      out.add(
          Detection.builder(FindingType.MAP_OVER_LIVE_MAPPING, Severity.HIGH)
              .host(host)
              .on(domain.id(), event.getDevice())
              .iova(map.getIova(), map.getIova() + map.getSize())
              .phys(map.getPaddr(), map.getPaddr() + map.getSize())
              .at(event.getTsNs())
              .evidence(event.getSeq())
              .message(
                  () ->
                      "IOVA 0x%x was mapped over a live mapping (%d bytes kept the old translation, %d replaced)"
                          .formatted(
                              result.firstConflictIova(),
                              result.keptOldBytes(),
                              result.replacedBytes()))
              .build());
    }
    operation(event, domain, map.getIova(), map.getSize(), durationOf(map.getDurationNs()));
  }

  @Override
  public void unmapped(IommuEvent event, Domain domain, Unmapping unmap, UnmapResult result) {
    long iova = unmap.getIova();
    long end = iova + unmap.getSize();
    if (result.notMappedBytes() > 0 && !explainedByUnattributedMap(iova, end)) {
      out.add(
          Detection.builder(FindingType.UNMAP_OF_UNMAPPED, Severity.MEDIUM)
              .host(host)
              .on(domain.id(), event.getDevice())
              .iova(iova, end)
              .at(event.getTsNs())
              .evidence(event.getSeq())
              .message(
                  () ->
                      "unmap of [0x%x, 0x%x) found %d of its bytes not mapped"
                          .formatted(iova, end, result.notMappedBytes()))
              .build());
    }
    if (result.partialLargePage() != PartialLargePage.NONE) {
      out.add(
          Detection.builder(FindingType.LARGE_PAGE_SPLIT, severityOf(result.partialLargePage()))
              .host(host)
              .on(domain.id(), event.getDevice())
              .iova(iova, end)
              .at(event.getTsNs())
              .evidence(event.getSeq())
              .message(
                  () ->
                      "unmap of [0x%x, 0x%x) covers part of a large page: %s"
                          .formatted(iova, end, describe(result)))
              .build());
    }
    operation(event, domain, iova, unmap.getSize(), durationOf(unmap.getDurationNs()));
  }

  @Override
  public void iovaAllocated(
      IommuEvent event, Domain domain, long kernelPfn, long pages, long modelPfn) {
    DomainOps ops = ops(domain.id());
    ops.allocatorSeen = true;
    long iova = kernelPfn * domain.granule();
    long end = iova + pages * domain.granule();
    ops.allocations.subMap(iova, true, end, false).clear();
    ops.allocations.put(iova, new long[] {end, event.getSeq()});
  }

  @Override
  public void notApplied(IommuEvent event, String reason) {
    if (event.getType() != EventType.MAP || !(event.getPayload() instanceof Mapping m)) return;
    unattributedMaps.put(m.getIova(), m.getIova() + m.getSize());
    if (unattributedMaps.size() > UNATTRIBUTED_KEPT) unattributedMaps.pollFirstEntry();
  }

  /**
   * Page-table events the trace shows directly (an instrumented kernel): installs of table pages,
   * their frees, and software walks of the table.
   */
  void event(IommuEvent event) {
    switch (event.getType()) {
      case PGTABLE_ALLOC -> tableInstalled(event, (TablePage) event.getPayload());
      case PGTABLE_FREE -> tableFreed(event, (TablePage) event.getPayload());
      case PGTABLE_WALK -> {
        List<Walk> walks = ops(event.getDomain()).walks;
        walks.removeIf(w -> w.walk().getEndNs() < event.getTsNs());
        walks.add(new Walk((TableWalk) event.getPayload(), event.getTsNs(), event.getSeq()));
      }
      default -> {}
    }
  }

  /** End of the trace: concurrent installs whose loser was never freed leaked a table page. */
  void finish() {
    for (InstallRace race : installRaces) report(race, null);
    installRaces.clear();
  }

  /**
   * Two map/unmap operations on overlapping ranges from different CPUs race when their execution
   * intervals overlap, or when the range was not handed from one to the other by an allocation.
   */
  private void operation(IommuEvent event, Domain domain, long iova, long size, long durationNs) {
    DomainOps ops = ops(domain.id());
    long end = iova + size;
    long start = event.getTsNs();
    Op op =
        new Op(
            event.getType(), event.getCpu(), event.getSeq(), start, start + durationNs, iova, end);
    Map.Entry<Long, Op> floor = ops.byIova.floorEntry(iova);
    Long from =
        floor != null && floor.getValue().end() > iova ? floor.getKey() : Long.valueOf(iova);
    Iterator<Op> overlapping = ops.byIova.subMap(from, true, end, false).values().iterator();
    while (overlapping.hasNext()) {
      Op previous = overlapping.next();
      if (previous.end() <= iova) continue;
      String why = raceBetween(previous, op, ops);
      if (why != null) reportRace(event, domain, previous, op, why);
      overlapping.remove();
    }
    ops.byIova.put(iova, op);
  }

  private static String raceBetween(Op previous, Op op, DomainOps ops) {
    if (previous.cpu() == op.cpu() || previous.cpu() < 0 || op.cpu() < 0) return null;
    if (op.startNs() < previous.endNs() || op.startNs() == previous.startNs()) {
      return "their execution overlapped";
    }
    if (previous.type() == EventType.UNMAP && op.type() == EventType.MAP && ops.allocatorSeen) {
      long[] alloc = allocationCovering(ops, op.iova());
      if (alloc == null || alloc[1] < previous.seq()) {
        return "no IOVA allocation handed the range over after the unmap";
      }
    }
    return null;
  }

  private static long[] allocationCovering(DomainOps ops, long iova) {
    Map.Entry<Long, long[]> e = ops.allocations.floorEntry(iova);
    return e != null && e.getValue()[0] > iova ? e.getValue() : null;
  }

  private void reportRace(IommuEvent event, Domain domain, Op previous, Op op, String why) {
    out.add(
        Detection.builder(FindingType.WRITER_RACE, Severity.HIGH)
            .host(host)
            .on(domain.id(), event.getDevice())
            .iova(Math.max(previous.iova(), op.iova()), Math.min(previous.end(), op.end()))
            .at(previous.startNs())
            .otherParty(domain.id(), null)
            .evidence(previous.seq(), op.seq())
            .message(
                () ->
                    "%s on CPU %d (seq %d) and %s on CPU %d (seq %d) wrote overlapping IOVA ranges: %s"
                        .formatted(
                            verb(previous.type()),
                            previous.cpu(),
                            previous.seq(),
                            verb(op.type()),
                            op.cpu(),
                            op.seq(),
                            why))
            .build());
  }

  private void tableInstalled(IommuEvent event, TablePage table) {
    DomainOps ops = ops(event.getDomain());
    String slot = table.getLevel() + ":" + table.getIova();
    Install install =
        new Install(
            table.getTableAddress() == null ? -1 : table.getTableAddress(),
            event.getCpu(),
            event.getSeq(),
            event.getTsNs());
    Install first = ops.installs.putIfAbsent(slot, install);
    if (first != null && first.cpu() != install.cpu()) {
      // Both CPUs found the slot empty and installed a page: one cmpxchg lost (the kernel keeps
      // the winner's page; the loser must free its own).
      installRaces.add(new InstallRace(event.getDomain(), table, first, install));
    }
  }

  private void tableFreed(IommuEvent event, TablePage table) {
    DomainOps ops = ops(event.getDomain());
    long address = table.getTableAddress() == null ? -1 : table.getTableAddress();
    Iterator<InstallRace> races = installRaces.iterator();
    while (races.hasNext()) {
      InstallRace race = races.next();
      if (race.domain() == event.getDomain()
          && (race.second().tableAddress() == address || race.first().tableAddress() == address)) {
        races.remove();
        report(race, event);
      }
    }
    String slot = table.getLevel() + ":" + table.getIova();
    Install installed = ops.installs.get(slot);
    if (installed != null && installed.tableAddress() == address) ops.installs.remove(slot);
    if (table.getFreeMode() == TableFreeMode.IMMEDIATE) walkRace(event, table, ops);
  }

  /** A software walk in progress over a table page freed without a grace period or flush. */
  private void walkRace(IommuEvent free, TablePage table, DomainOps ops) {
    long tableEnd = table.getIova() + table.getSize();
    ops.walks.removeIf(w -> w.walk().getEndNs() < free.getTsNs());
    for (Walk w : ops.walks) {
      long walkEnd = w.walk().getIova() + w.walk().getSize();
      if (w.walk().getIova() >= tableEnd || walkEnd <= table.getIova()) continue;
      out.add(
          Detection.builder(FindingType.WALK_FREE_RACE, Severity.HIGH)
              .host(host)
              .on(free.getDomain(), free.getDevice())
              .iova(Math.max(table.getIova(), w.walk().getIova()), Math.min(tableEnd, walkEnd))
              .at(w.startNs())
              .evidence(w.seq(), free.getSeq())
              .message(
                  () ->
                      "%s walked the page table (seq %d) while a level-%d table page it covers was freed at once, without a grace period or flush (seq %d)"
                          .formatted(
                              w.walk().getReader(), w.seq(), table.getLevel(), free.getSeq()))
              .build());
    }
  }

  private void report(InstallRace race, IommuEvent freeOfLoser) {
    boolean resolved = freeOfLoser != null;
    long end = race.table().getIova() + race.table().getSize();
    Detection.Builder d =
        Detection.builder(FindingType.TABLE_INSTALL_RACE, resolved ? Severity.LOW : Severity.MEDIUM)
            .host(host)
            .on(race.domain(), null)
            .iova(race.table().getIova(), end)
            .at(race.first().tsNs());
    if (resolved) {
      d.evidence(race.first().seq(), race.second().seq(), freeOfLoser.getSeq());
    } else {
      d.evidence(race.first().seq(), race.second().seq());
    }
    out.add(
        d.message(
                () ->
                    "CPUs %d and %d both installed a level-%d table page for the slot over IOVA 0x%x: %s"
                        .formatted(
                            race.first().cpu(),
                            race.second().cpu(),
                            race.table().getLevel(),
                            race.table().getIova(),
                            resolved
                                ? "resolved, the loser's page was freed (seq %d)"
                                    .formatted(freeOfLoser.getSeq())
                                : "leaked, the loser's page was never freed"))
            .build());
  }

  private boolean explainedByUnattributedMap(long iova, long end) {
    Map.Entry<Long, Long> e = unattributedMaps.floorEntry(end - 1);
    return e != null && e.getValue() > iova;
  }

  private DomainOps ops(long domain) {
    return domains.computeIfAbsent(domain, d -> new DomainOps());
  }

  private static long durationOf(Long durationNs) {
    return durationNs == null ? 0 : durationNs;
  }

  private static String verb(EventType type) {
    return type == EventType.MAP ? "map" : "unmap";
  }

  private static Severity severityOf(PartialLargePage partial) {
    // VT-d left the superpage mapped and walked into its data page as a table: memory corruption.
    return partial == PartialLargePage.LEFT_MAPPED ? Severity.HIGH : Severity.MEDIUM;
  }

  private static String describe(UnmapResult result) {
    return switch (result.partialLargePage()) {
      case REMOVED_WHOLE ->
          "the driver removed all of it, %d bytes outside the range (VT-d intel_iommu_unmap rounds up)"
              .formatted(result.removedOutsideRange());
      case REFUSED -> "the driver refused and unmapped nothing (ARM: partial large IOPTE)";
      case LEFT_MAPPED ->
          "the driver left the large page mapped and cleared entries inside its data page (VT-d dma_pte_clear_level)";
      case NONE -> "";
    };
  }
}
