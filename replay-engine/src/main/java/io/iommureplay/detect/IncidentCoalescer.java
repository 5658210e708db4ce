package io.iommureplay.detect;

import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Folds the detections of one host into incidents, one finding each (issue 4, "Incidents, not
 * floods"): a lazy capture holds hundreds of thousands of reuse instances, as page-cache and
 * network pages are recycled within milliseconds. Instances of one type on the same domain and
 * device, with the same second party, coalesce when they share a flush window, or, where no window
 * applies, when each comes within {@link Options#intervalNs} of the incident's latest one.
 *
 * <p>An incident is emitted as one {@link Finding} once it is complete: when its window closes
 * ({@link #windowClosed}), when event time passes its latest instance plus the interval ({@link
 * #advanceTo}), or at {@link #finish}. Each of those calls returns the incidents completed since
 * the previous one in {@link FindingOrder#CANONICAL} order, so the output depends only on the
 * sequence of calls and on the order of instances within each incident. Memory is bounded by the
 * open incidents, whatever their instance counts. Not thread-safe.
 */
public final class IncidentCoalescer {

  /**
   * How instances coalesce.
   *
   * @param intervalNs where no flush window applies, the longest gap between an incident's
   *     instances; default 10 ms, Linux's flush-queue timeout (REFERENCE.md), so such an incident
   *     spans about what a lazy window does
   * @param evidenceLimit how many sequence numbers a finding keeps (the first ones); default 8
   */
  public record Options(long intervalNs, int evidenceLimit) {
    public static final Options DEFAULTS = new Options(10_000_000L, 8);

    public Options {
      if (intervalNs < 0) {
        throw new IllegalArgumentException("intervalNs must not be negative: " + intervalNs);
      }
      if (evidenceLimit < 1) {
        throw new IllegalArgumentException("evidenceLimit must be at least 1: " + evidenceLimit);
      }
    }
  }

  /** What instances must share to coalesce; a null window means coalescing by interval. */
  private record Key(
      FindingType type,
      long domain,
      String device,
      Long otherDomain,
      String otherDevice,
      Long flushWindow) {

    static Key of(Detection detection) {
      return new Key(
          detection.type(),
          detection.domain(),
          detection.device(),
          detection.otherDomain(),
          detection.otherDevice(),
          detection.flushWindow());
    }
  }

  private record Window(long domain, long id) {}

  /** An interval incident's completion time when queued; it may have been extended since. */
  private record Deadline(long atNs, Incident incident) {}

  private final Options options;
  private String host;
  private final Map<Key, Incident> open = new HashMap<>();
  private final Map<Window, List<Incident>> openByWindow = new HashMap<>();
  private final PriorityQueue<Deadline> deadlines =
      new PriorityQueue<>(Comparator.comparingLong(Deadline::atNs));
  private final List<Incident> completed = new ArrayList<>();

  public IncidentCoalescer(Options options) {
    this.options = options;
  }

  /**
   * Adds an instance to its open incident, or opens one. An instance outside the interval of its
   * open incident completes that incident and opens the next; window instances must come before
   * their window closes, or they open an incident that only {@link #finish} completes.
   *
   * @throws IllegalArgumentException when the detection is of another host than the earlier ones
   */
  public void add(Detection detection) {
    if (host == null) {
      host = detection.host();
    } else if (!host.equals(detection.host())) {
      throw new IllegalArgumentException(
          "one coalescer per host: " + detection.host() + " after " + host);
    }
    Key key = Key.of(detection);
    Incident incident = open.get(key);
    if (incident != null && key.flushWindow() == null && detection.tsNs() > incident.deadline()) {
      complete(incident);
      incident = null;
    }
    if (incident != null) {
      incident.add(detection);
      return;
    }
    incident = new Incident(key, detection);
    open.put(key, incident);
    if (key.flushWindow() == null) {
      deadlines.add(new Deadline(incident.deadline(), incident));
    } else {
      openByWindow
          .computeIfAbsent(new Window(key.domain(), key.flushWindow()), window -> new ArrayList<>())
          .add(incident);
    }
  }

  /** The model closed flush window {@code windowId} of {@code domain}: its incidents complete. */
  public List<Finding> windowClosed(long domain, long windowId) {
    List<Incident> incidents = openByWindow.remove(new Window(domain, windowId));
    if (incidents != null) {
      incidents.forEach(this::complete);
    }
    return drainCompleted();
  }

  /**
   * Event time reached {@code tsNs}: interval incidents whose latest instance is more than the
   * interval before it complete. Cheap when none does, so it may be called for every event.
   */
  public List<Finding> advanceTo(long tsNs) {
    while (!deadlines.isEmpty() && deadlines.peek().atNs() < tsNs) {
      Incident incident = deadlines.poll().incident();
      if (open.get(incident.key) != incident) {
        continue; // completed by a later instance in add()
      }
      if (incident.deadline() < tsNs) {
        complete(incident);
      } else {
        deadlines.add(new Deadline(incident.deadline(), incident));
      }
    }
    return drainCompleted();
  }

  /** The end of the trace: every open incident completes. */
  public List<Finding> finish() {
    completed.addAll(open.values());
    open.clear();
    openByWindow.clear();
    deadlines.clear();
    return drainCompleted();
  }

  /** Incidents added and not yet completed. */
  public int openIncidents() {
    return open.size();
  }

  private void complete(Incident incident) {
    open.remove(incident.key);
    completed.add(incident);
  }

  private List<Finding> drainCompleted() {
    if (completed.isEmpty()) {
      return List.of();
    }
    List<Finding> findings =
        completed.stream().map(Incident::toFinding).sorted(FindingOrder.CANONICAL).toList();
    completed.clear();
    return findings;
  }

  private static long minUnsigned(long a, long b) {
    return Long.compareUnsigned(a, b) <= 0 ? a : b;
  }

  private static long maxUnsigned(long a, long b) {
    return Long.compareUnsigned(a, b) >= 0 ? a : b;
  }

  /** One incident's summary so far: constant size, however many instances it stands for. */
  private final class Incident {
    private final Key key;
    private final Detection first;
    private final List<Long> evidence = new ArrayList<>();
    private Severity severity = Severity.INFO;
    private long instances;
    private long iovaStart = -1; // the largest unsigned value: any start is at most this
    private long iovaEnd;
    private Long physStart;
    private Long physEnd;
    private long firstNs = Long.MAX_VALUE;
    private long lastNs = Long.MIN_VALUE;

    Incident(Key key, Detection first) {
      this.key = key;
      this.first = first;
      add(first);
    }

    void add(Detection detection) {
      instances++;
      if (detection.severity().compareTo(severity) > 0) {
        severity = detection.severity();
      }
      iovaStart = minUnsigned(iovaStart, detection.iovaStart());
      iovaEnd = maxUnsigned(iovaEnd, detection.iovaEnd());
      if (detection.physStart() != null) {
        physStart =
            physStart == null
                ? detection.physStart()
                : minUnsigned(physStart, detection.physStart());
        physEnd = physEnd == null ? detection.physEnd() : maxUnsigned(physEnd, detection.physEnd());
      }
      firstNs = Math.min(firstNs, detection.tsNs());
      lastNs = Math.max(lastNs, detection.tsNs());
      for (long seq : detection.evidence()) {
        if (evidence.size() < options.evidenceLimit() && !evidence.contains(seq)) {
          evidence.add(seq);
        }
      }
    }

    /**
     * When an interval incident completes unless extended: its latest instance plus the interval.
     */
    long deadline() {
      long deadline = lastNs + options.intervalNs();
      return deadline < lastNs ? Long.MAX_VALUE : deadline;
    }

    Finding toFinding() {
      return Finding.newBuilder()
          .setType(first.type())
          .setSeverity(severity)
          .setHost(first.host())
          .setDomain(first.domain())
          .setDevice(first.device())
          .setIovaStart(iovaStart)
          .setIovaEnd(iovaEnd)
          .setPhysStart(physStart)
          .setPhysEnd(physEnd)
          .setFirstNs(firstNs)
          .setLastNs(lastNs)
          .setEvidence(List.copyOf(evidence))
          .setInstances(instances)
          .setMessage(
              instances == 1
                  ? first.message()
                  : first.message() + " (first of " + instances + " instances)")
          .setOtherDomain(first.otherDomain())
          .setOtherDevice(first.otherDevice())
          .build();
    }
  }
}
