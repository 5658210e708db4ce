package io.iommureplay.generate;

import io.iommureplay.schema.FindingType;
import java.util.List;
import java.util.Objects;

/**
 * The ground truth of one injected bug: what a detector should report, where and when, and the
 * events that make it up. {@link Labels} reads and writes them as JSON lines.
 *
 * @param type the finding type the bug is an instance of
 * @param host the host it happened on
 * @param domain the domain; for use-after-unmap bugs the holder of the stale translation
 * @param device that domain's device as the kernel names it
 * @param iovaStart first IOVA concerned (for allocator bugs: the allocation window, from the first
 *     usable pfn up to the request's limit)
 * @param iovaEnd end of the range, exclusive
 * @param firstNs time of the first event of {@code seqs}
 * @param lastNs time of the last event of {@code seqs}
 * @param seqs sequence numbers (on {@code host}) of the events that make the bug up, ascending
 * @param variant which form of the bug this is (e.g. {@code cross-device}); null when the type has
 *     one form
 * @param otherDomain the second party: the domain that mapped the page again, or null
 * @param otherDevice the second party's device, or null
 * @param physStart first physical address concerned, or null
 * @param physEnd end of the physical range, exclusive, or null
 * @param also other finding types this very instance is by SPEC's definitions too (e.g. a
 *     page-table walk racing an immediate table free is also a table freed before its flush); a
 *     finding of one of those types matching this label is not a false positive
 */
public record Label(
    FindingType type,
    String host,
    long domain,
    String device,
    long iovaStart,
    long iovaEnd,
    long firstNs,
    long lastNs,
    List<Long> seqs,
    String variant,
    Long otherDomain,
    String otherDevice,
    Long physStart,
    Long physEnd,
    List<FindingType> also) {

  public Label {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(host, "host");
    seqs = List.copyOf(seqs);
    also = also == null ? List.of() : List.copyOf(also);
    if (seqs.isEmpty()) throw new IllegalArgumentException("a label needs events: " + type);
    if (Long.compareUnsigned(iovaStart, iovaEnd) > 0) {
      throw new IllegalArgumentException("IOVA range ends before it starts: " + type);
    }
    if (lastNs < firstNs) throw new IllegalArgumentException("lastNs before firstNs: " + type);
    if ((physStart == null) != (physEnd == null)) {
      throw new IllegalArgumentException("physical range with one end: " + type);
    }
  }

  /** Whether {@code [start, end)} overlaps this label's IOVA range. */
  public boolean overlapsIova(long start, long end) {
    return Long.compareUnsigned(start, iovaEnd) < 0 && Long.compareUnsigned(iovaStart, end) < 0;
  }
}
