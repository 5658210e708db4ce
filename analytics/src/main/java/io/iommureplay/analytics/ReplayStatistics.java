package io.iommureplay.analytics;

import io.iommureplay.detect.SummaryJson;
import io.iommureplay.model.Domain;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.IovaReplay;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.flushqueue.FlushQueue;
import io.iommureplay.model.flushqueue.FlushQueue.Stat;
import io.iommureplay.model.iotlb.IotlbListener.Closure;
import io.iommureplay.model.iotlb.Window;
import io.iommureplay.model.iova.AllocatorStats;
import io.iommureplay.model.iova.FragmentationSample;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import java.util.EnumMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a replay of one host measured, for summary.json (SPEC "Contract"): events by type,
 * use-after-unmap window lengths per domain, device and mode, the allocator replay per domain, and
 * the flush queues' predicted and observed flushes. Fed the events and the model's callbacks; used
 * alike by every engine.
 */
public final class ReplayStatistics implements ModelListener {
  private final String host;
  private final long[] eventsByType = new long[EventType.values().length];
  private final WindowLengths windows = new WindowLengths();
  private final Map<String, Long> notApplied = new TreeMap<>();
  private IommuModel model;

  public ReplayStatistics(String host) {
    this.host = host;
  }

  public void attach(IommuModel model) {
    this.model = model;
  }

  public void event(IommuEvent event) {
    eventsByType[event.getType().ordinal()]++;
  }

  @Override
  public void windowClosed(Window window, long openNs, long closeSeq, Closure cause) {
    if (cause != Closure.INVALIDATED) return;
    Domain domain = model == null ? null : model.domain(window.domain());
    windows.record("domain " + window.domain(), openNs);
    window.devices().forEach(d -> windows.record("device " + d, openNs));
    windows.record(domain != null && domain.isLazy() ? "mode lazy" : "mode strict", openNs);
  }

  @Override
  public void notApplied(IommuEvent event, String reason) {
    notApplied.merge(reason, 1L, Long::sum);
  }

  /** Events replayed, by type. */
  public Map<EventType, Long> eventsByType() {
    Map<EventType, Long> counts = new EnumMap<>(EventType.class);
    for (EventType type : EventType.values()) {
      if (eventsByType[type.ordinal()] > 0) counts.put(type, eventsByType[type.ordinal()]);
    }
    return counts;
  }

  /** Writes this host's figures into {@code summary} under {@code hosts.HOST}. */
  public void writeTo(SummaryJson summary) {
    SummaryJson host = summary.section("hosts").section(this.host);
    SummaryJson events = host.section("events");
    eventsByType().forEach((type, n) -> events.put(type.name(), n));
    SummaryJson skipped = host.section("notApplied");
    notApplied.forEach(skipped::put);
    SummaryJson lengths = host.section("windowLengthNs");
    for (String key : windows.keys()) {
      WindowLengths.Percentiles p = windows.percentiles(key);
      lengths
          .section(key)
          .put("count", p.count())
          .put("p50", p.p50())
          .put("p90", p.p90())
          .put("p99", p.p99())
          .put("max", p.max());
    }
    if (model == null) return;
    for (Domain domain : model.domains()) {
      SummaryJson d = host.section("domains").section(Long.toString(domain.id()));
      d.put("type", domain.type().name());
      d.put("devices", String.join(" ", domain.devices()));
      if (domain.iova() != null) allocator(d.section("allocator"), domain.iova());
      if (domain.flushQueue() != null) flushQueue(d.section("flushQueue"), domain.flushQueue());
    }
  }

  private static void allocator(SummaryJson a, IovaReplay replay) {
    AllocatorStats stats = replay.allocator().stats();
    FragmentationSample f = replay.allocator().fragmentation(Long.MAX_VALUE >>> 12);
    a.put("model", replay.allocator().profile().name())
        .put("kernelAgreement", replay.kernelAgreement())
        .put("kernelAgreementExcludingMissedFrees", replay.kernelAgreementExcludingMissedFrees())
        .put("cacheHitPrediction", replay.cachePrediction())
        .put("allocationsReplayed", replay.allocations())
        .put("allocations", stats.allocations())
        .put("failures", stats.failures())
        .put("fragmentedFailures", stats.fragmentedFailures())
        .put("cacheHitRate", stats.cacheHitRate())
        .put("globalLocksPer1000Allocations", stats.globalLocksPer1000Allocations())
        .put("reuseDistanceP50", stats.reuseDistance().quantileUpperBound(0.5))
        .put("fragmentationIndexAtEnd", f.fragmentationIndex())
        .put("holesAtEnd", f.holes());
  }

  private static void flushQueue(SummaryJson q, FlushQueue queue) {
    q.put("entriesQueued", queue.count(Stat.ENTRIES_QUEUED))
        .put("timerFlushesPredicted", queue.count(Stat.TIMER_FLUSHES))
        .put("timerFlushesObserved", queue.count(Stat.OBSERVED_TIMER_FLUSHES))
        .put("fullFlushesPredicted", queue.count(Stat.FULL_FLUSHES))
        .put("fullFlushesObserved", queue.count(Stat.OBSERVED_FULL_FLUSHES))
        .put("maxRingOccupancy", queue.maxOccupancy())
        .put("divergences", queue.divergences().size());
  }
}
