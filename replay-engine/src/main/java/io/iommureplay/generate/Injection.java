package io.iommureplay.generate;

import static io.iommureplay.generate.GenDomain.PROT_CACHE;
import static io.iommureplay.generate.GenDomain.PROT_READ;
import static io.iommureplay.generate.GenDomain.PROT_WRITE;

import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One injected bug: a little state machine run by its host between normal operations. Each {@link
 * #step} runs one phase at the host's current time and returns when the next one is due; the last
 * one emits the {@link Label}. While it runs it holds its {@link #lanes()} (no other injection uses
 * them).
 */
abstract class Injection {
  static final long DONE = -1;

  final HostGenerator h;
  final FindingType type;
  final int variant;
  final GenDomain lane;
  long wakeNs;
  long order;
  int phase;

  Injection(HostGenerator h, FindingType type, int variant, GenDomain lane, long startNs) {
    this.h = h;
    this.type = type;
    this.variant = variant;
    this.lane = lane;
    this.wakeNs = startNs;
  }

  /** The domains this injection holds while it runs. */
  List<GenDomain> lanes() {
    return lane == null ? List.of() : List.of(lane);
  }

  /** Runs the next phase; returns when the next one is due, or {@link #DONE}. */
  abstract long step();

  /** How long normal traffic must go on after this bug (so a missing flush stays missing). */
  long tailNs() {
    return 30_000_000L;
  }

  // ---- helpers ----

  long in(long loNs, long hiNs) {
    return h.now + loNs + h.rnd.nextLong(hiNs - loNs + 1);
  }

  /** A one-page DMA-API buffer, written by the device. */
  Buffer page(GenDomain d, int cpu) {
    Buffer b = d.newBuffer(cpu, PROT_READ | PROT_WRITE | PROT_CACHE, 12);
    Actors.access(h, d, b.iova, 64 + h.rnd.nextLong(1984), true);
    return b;
  }

  /** A DMA-API buffer of {@code pages} one-page pieces (each its own map call). */
  Buffer pages(GenDomain d, int cpu, int pages) {
    int[] pieces = new int[pages];
    Arrays.fill(pieces, 12);
    Buffer b = d.newBuffer(cpu, PROT_READ | PROT_WRITE | PROT_CACHE, pieces);
    Actors.access(h, d, b.iova, Math.min(b.bytes, 4096), true);
    return b;
  }

  void label(
      GenDomain d, long iovaStart, long iovaEnd, List<IommuEvent> evidence, String variantName) {
    label(d.id, d.device, iovaStart, iovaEnd, evidence, variantName, null, null, null, null);
  }

  void label(
      long domain,
      String device,
      long iovaStart,
      long iovaEnd,
      List<IommuEvent> evidence,
      String variantName,
      GenDomain other,
      Long physStart,
      Long physEnd,
      List<FindingType> also) {
    List<IommuEvent> sorted = new ArrayList<>(evidence);
    sorted.sort((a, b) -> Long.compare(a.getSeq(), b.getSeq()));
    List<Long> seqs = new ArrayList<>();
    long first = Long.MAX_VALUE;
    long last = Long.MIN_VALUE;
    for (IommuEvent e : sorted) {
      if (!seqs.isEmpty() && seqs.get(seqs.size() - 1) == e.getSeq()) continue;
      seqs.add(e.getSeq());
      first = Math.min(first, e.getTsNs());
      last = Math.max(last, e.getTsNs());
    }
    h.label(
        new Label(
            type,
            h.host,
            domain,
            device,
            iovaStart,
            iovaEnd,
            first,
            last,
            seqs,
            variantName,
            other == null ? null : other.id,
            other == null ? null : other.device,
            physStart,
            physEnd,
            also));
  }
}
