package io.iommureplay.detect;

import static java.util.Objects.requireNonNull;

import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import java.util.List;
import java.util.function.Supplier;

/**
 * One instance a detector saw, before {@link IncidentCoalescer} folds the instances of one incident
 * into a finding (SPEC Detectors; issue 4, "Incidents, not floods"). Addresses are unsigned 64-bit
 * values, ranges end exclusively. Build one with {@link #builder}.
 *
 * @param domain the domain the finding is about; for use-after-unmap, the holder of the stale
 *     translation
 * @param device that domain's device as the kernel names it ({@code 0000:00:04.0}), or null
 * @param physStart first physical address, or null when not known (then so is physEnd)
 * @param evidence sequence numbers of the events that prove this instance, at least one
 * @param describe the one line a kernel engineer would accept, about this instance: built only if
 *     asked for ({@link #message()}), since a coalesced incident keeps its first instance's
 * @param otherDomain the second party's domain (who got the page, or the racing writer), or null
 * @param otherDevice the second party's device, or null
 * @param flushWindow the model's id of the flush window the instance falls in, unique within its
 *     domain, or null where no window applies: then instances coalesce by time interval
 */
public record Detection(
    FindingType type,
    Severity severity,
    String host,
    long domain,
    String device,
    long iovaStart,
    long iovaEnd,
    Long physStart,
    Long physEnd,
    long tsNs,
    List<Long> evidence,
    Supplier<String> describe,
    Long otherDomain,
    String otherDevice,
    Long flushWindow) {

  /** The one-line explanation. */
  public String message() {
    return describe.get();
  }

  public Detection {
    requireNonNull(type, "type");
    requireNonNull(severity, "severity");
    requireNonNull(host, "host");
    requireNonNull(describe, "message");
    evidence = List.copyOf(evidence);
    if (evidence.isEmpty()) {
      throw new IllegalArgumentException("a detection needs evidence: " + describe.get());
    }
    checkRange("IOVA", iovaStart, iovaEnd);
    if ((physStart == null) != (physEnd == null)) {
      throw new IllegalArgumentException("physical range with only one end: " + describe.get());
    }
    if (physStart != null) {
      checkRange("physical", physStart, physEnd);
    }
  }

  /** This detection, placed in flush window {@code windowId} of its domain. */
  public Detection withFlushWindow(long windowId) {
    return new Detection(
        type,
        severity,
        host,
        domain,
        device,
        iovaStart,
        iovaEnd,
        physStart,
        physEnd,
        tsNs,
        evidence,
        describe,
        otherDomain,
        otherDevice,
        windowId);
  }

  /**
   * A builder of a detection of {@code type}; host, domain, IOVA range, time, evidence and message
   * are required.
   */
  public static Builder builder(FindingType type, Severity severity) {
    return new Builder(type, severity);
  }

  private static void checkRange(String kind, long start, long end) {
    if (Long.compareUnsigned(start, end) > 0) {
      throw new IllegalArgumentException(
          kind
              + " range ends before it starts: 0x"
              + Long.toHexString(start)
              + "-0x"
              + Long.toHexString(end));
    }
  }

  /** Builds a {@link Detection}; each setter names the record component(s) it sets. */
  public static final class Builder {
    private final FindingType type;
    private final Severity severity;
    private String host;
    private Long domain;
    private String device;
    private Long iovaStart;
    private Long iovaEnd;
    private Long physStart;
    private Long physEnd;
    private Long tsNs;
    private List<Long> evidence = List.of();
    private Supplier<String> describe;
    private Long otherDomain;
    private String otherDevice;
    private Long flushWindow;

    private Builder(FindingType type, Severity severity) {
      this.type = type;
      this.severity = severity;
    }

    public Builder host(String host) {
      this.host = host;
      return this;
    }

    /** The domain and device the finding is about (use-after-unmap: the stale translation's). */
    public Builder on(long domain, String device) {
      this.domain = domain;
      this.device = device;
      return this;
    }

    /** IOVA range {@code [start, end)}. */
    public Builder iova(long start, long end) {
      this.iovaStart = start;
      this.iovaEnd = end;
      return this;
    }

    /** Physical range {@code [start, end)}, where known. */
    public Builder phys(long start, long end) {
      this.physStart = start;
      this.physEnd = end;
      return this;
    }

    public Builder at(long tsNs) {
      this.tsNs = tsNs;
      return this;
    }

    /** The sequence numbers of the events that prove the instance. */
    public Builder evidence(long... seqs) {
      Long[] boxed = new Long[seqs.length];
      for (int i = 0; i < seqs.length; i++) boxed[i] = seqs[i];
      this.evidence = List.of(boxed);
      return this;
    }

    public Builder message(String message) {
      this.describe = () -> message;
      return this;
    }

    /** The message, built only if a finding needs it (most instances coalesce into another's). */
    public Builder message(Supplier<String> message) {
      this.describe = message;
      return this;
    }

    /** The second party: who got the page, or the racing writer; {@code device} may be null. */
    public Builder otherParty(long domain, String device) {
      this.otherDomain = domain;
      this.otherDevice = device;
      return this;
    }

    /** Coalesce with the other instances of the domain's flush window {@code windowId}. */
    public Builder inFlushWindow(long windowId) {
      this.flushWindow = windowId;
      return this;
    }

    public Detection build() {
      return new Detection(
          type,
          severity,
          host,
          requireNonNull(domain, "domain"),
          device,
          requireNonNull(iovaStart, "iova range"),
          iovaEnd,
          physStart,
          physEnd,
          requireNonNull(tsNs, "tsNs"),
          evidence,
          describe,
          otherDomain,
          otherDevice,
          flushWindow);
    }
  }
}
