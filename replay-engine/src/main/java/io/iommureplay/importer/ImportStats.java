package io.iommureplay.importer;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * What an import saw: events per trace event name (qi_submit split by descriptor kind, as in the
 * shared traces' counts.txt), lines of kinds it does not model, malformed lines, and how well
 * map/unmap events were attributed to a device and domain.
 */
public final class ImportStats {
  /** Counters in one-element arrays: counting an event allocates nothing. */
  private final Map<String, long[]> eventsBySource = new HashMap<>();

  private final long[] eventsByType = new long[EventType.values().length];
  private final Map<String, Long> unknownKinds = new TreeMap<>();
  private final Map<Attribution, Long> mapUnmapAttribution = new EnumMap<>(Attribution.class);
  long lines;
  long headerLines;
  long malformedLines;

  void countEvent(String source, EventType type) {
    eventsBySource.computeIfAbsent(source, s -> new long[1])[0]++;
    eventsByType[type.ordinal()]++;
  }

  void countUnknown(String kind) {
    unknownKinds.merge(kind, 1L, Long::sum);
  }

  void countMapUnmap(Attribution attribution) {
    mapUnmapAttribution.merge(attribution, 1L, Long::sum);
  }

  /**
   * Events per trace event name ("map", "alloc_iova_fast_ret", "qi_submit iotlb_inv", ...), by
   * name.
   */
  public Map<String, Long> eventsBySource() {
    Map<String, Long> sorted = new TreeMap<>();
    eventsBySource.forEach((source, count) -> sorted.put(source, count[0]));
    return Collections.unmodifiableMap(sorted);
  }

  public Map<EventType, Long> eventsByType() {
    Map<EventType, Long> counts = new EnumMap<>(EventType.class);
    for (EventType type : EventType.values()) {
      if (eventsByType[type.ordinal()] > 0) counts.put(type, eventsByType[type.ordinal()]);
    }
    return Collections.unmodifiableMap(counts);
  }

  /**
   * Lines whose event kind is not modelled, per kind ("sched_switch", "kprobe:do_sys_open", ...).
   */
  public Map<String, Long> unknownKinds() {
    return Collections.unmodifiableMap(unknownKinds);
  }

  /** Map and unmap events by how their domain and device were found. */
  public Map<Attribution, Long> mapUnmapAttribution() {
    return Collections.unmodifiableMap(mapUnmapAttribution);
  }

  public long lines() {
    return lines;
  }

  public long headerLines() {
    return headerLines;
  }

  public long malformedLines() {
    return malformedLines;
  }

  public long events() {
    return Arrays.stream(eventsByType).sum();
  }

  /** Share of map/unmap events attributed to a device and domain (1.0 when there are none). */
  public double mapUnmapAttributionRate() {
    long total = mapUnmapAttribution.values().stream().mapToLong(Long::longValue).sum();
    long missing = mapUnmapAttribution.getOrDefault(Attribution.MISSING, 0L);
    return total == 0 ? 1.0 : (double) (total - missing) / total;
  }
}
