package io.iommureplay.model.flushqueue;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.flushqueue.FlushQueue.Stat;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaPath;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Unmapping;
import io.iommureplay.testing.SharedTraces;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/**
 * Follows the kernel's flushes in the real lazy capture (../shared/traces/lazy-smp2: Debian 6.1, 2
 * vCPUs, iommu.strict=0, VT-d emulated by QEMU TCG) with one queue per DMA domain, and compares the
 * flushes the model predicts with those the kernel did, and the IOVAs it releases with the kernel's
 * free_iova_fast. The trace maps onto the queue so (traces/README.md, "Lazy unmap"):
 *
 * <ul>
 *   <li>{@code queue_iova()} → {@link FlushQueue#enqueue}, at its first fq_ring_free (FQ_ENQUEUE),
 *       just before it appends: the unmap tracepoint comes earlier, and the other vCPU may start a
 *       flush in between (30.637033 s), which the entry then waits out. Where that kprobe hit was
 *       missed (0.7%), at the unmap, which is never lost.
 *   <li>{@code fq_flush_iotlb} (FQ_FLUSH) → {@link FlushQueue#flushStarted}: it counts the flush
 *       started on entry, and its invalidation may follow long after under emulation (600 µs at
 *       32.2338 s, while the other vCPU queued 27 unmaps that this flush did not release).
 *   <li>the domain-selective {@code qi_submit} (IOTLB_FLUSH) → {@link FlushQueue#flushFinished}.
 * </ul>
 *
 * Why a flush ran is the importer's trigger on the invalidation (FQ_TIMER, FQ_FULL), worked out per
 * CPU and interrupt level: unmaps in hard interrupts often fall between {@code fq_flush_timeout}
 * and its {@code fq_flush_iotlb} in the softirq (22.1809 s, 22.4929 s), so "the line before" would
 * call those timer flushes full-ring ones. A first pass over the trace learns what the replay needs
 * ahead of time.
 */
class FlushQueueRealTraceTest {
  private static final String TRACE = "lazy-smp2";
  private static final int CPUS = 2; // each fq_flush_timeout reaps two rings (two fq_ring_free)
  private static final int PAGE_SHIFT = 12; // init_iova_domain granule=4096

  @Test
  void predictsTheKernelsFlushesOnTheLazyCapture() throws IOException {
    TraceFacts facts = new TraceFacts();
    importTrace(facts::accept);
    Replay replay = new Replay(facts);
    importTrace(replay::apply);
    replay.print();

    long observedFull = 0;
    long observedAll = 0;
    long released = 0;
    for (Map.Entry<Long, FlushQueue> e : replay.queues.entrySet()) {
      FlushQueue q = e.getValue();
      observedFull += q.count(Stat.OBSERVED_FULL_FLUSHES);
      observedAll += q.count(Stat.OBSERVED_FULL_FLUSHES) + q.count(Stat.OBSERVED_TIMER_FLUSHES);
      released += q.count(Stat.IOVAS_RELEASED);
      // The model found the ring full exactly where the kernel flushed a full ring, and its timer
      // armed wherever the kernel's timer fired.
      String domain = "domain " + e.getKey();
      assertThat(q.count(Stat.FULL_FLUSHES))
          .as(domain)
          .isEqualTo(q.count(Stat.OBSERVED_FULL_FLUSHES));
      assertThat(q.count(Stat.TIMER_FLUSHES))
          .as(domain)
          .isEqualTo(q.count(Stat.OBSERVED_TIMER_FLUSHES));
      assertThat(q.divergences()).as(domain).isEmpty();
    }
    assertThat(replay.queues).hasSize(4);
    assertThat(replay.unattributed).isZero();

    // Every free_iova_fast of the kernel gave back an IOVA the model had released, but one: the
    // unmap of 0xfff03000 on CPU 0 and fq_flush_iotlb on CPU 1 share a microsecond (32.021339 s);
    // the trace lists the flush first, the kernel had appended first. No release came a flush
    // early:
    // the model led the kernel at most by its reap's duration (8.3 ms between the two rings'
    // fq_ring_free at 26.3108 s, the vCPU preempted). Its other releases are kprobe misses.
    assertThat(replay.freesOfHeldIovas).isLessThanOrEqualTo(1);
    assertThat(replay.maxReleaseLeadNs).isLessThan(10_000_000L);
    assertThat(released - replay.freesMatched - replay.freesOfHeldIovas)
        .isEqualTo(missedKprobeHits("free_iova_fast"));

    // REFERENCE: "about 1 in 10 domain flushes in the lazy captures is a full-ring flush". So it is
    // in the busy virtio-blk domain (67 of 544); over all four domains it is 69 of 1310.
    assertThat(observedFull).isBetween(observedAll / 40, observedAll / 10);
    // The kernel's 10 ms timer, armed by the first enqueue of a batch, fired ~16 ms after it
    // under emulation (REFERENCE).
    assertThat(replay.medianTimerDelayNs()).isBetween(12_000_000L, 20_000_000L);
  }

  private static void importTrace(Consumer<IommuEvent> consumer) throws IOException {
    SharedTraces.forEachEvent(TRACE, consumer);
  }

  /** kprobe_profile.txt: {@code name hits misses}. */
  private static long missedKprobeHits(String probe) throws IOException {
    for (String line :
        Files.readAllLines(SharedTraces.dir().resolve(TRACE + ".meta/kprobe_profile.txt"))) {
      String[] fields = line.strip().split("\\s+");
      if (fields[0].equals(probe)) return Long.parseLong(fields[2]);
    }
    throw new AssertionError("no kprobe " + probe);
  }

  private static FlushReason reasonOf(FlushTrigger trigger) {
    return switch (trigger) {
      case FQ_TIMER -> FlushReason.TIMER;
      case FQ_FULL -> FlushReason.FULL;
      default -> null;
    };
  }

  private static boolean isDomainFlush(IommuEvent e) {
    return e.getType() == EventType.IOTLB_FLUSH
        && e.getDomain() >= 0
        && ((IotlbInvalidation) e.getPayload()).getScope() == FlushScope.DOMAIN;
  }

  /** What the replay must know before the trace tells it: learnt in a first pass. */
  private static final class TraceFacts {
    /**
     * Unmaps the importer could not attribute (204: their dma-iommu kprobe hit was missed, and the
     * same IOVA was mapped in several domains, all allocating top-down below 4 GiB), or guessed a
     * domain that had nothing mapped there (line 623357: 0xfff0b000 put in domain 2, mapped in 5),
     * belong to the domain, of those that had the IOVA mapped, whose free_iova_fast next gives back
     * that pfn: lazily, that free is the reap of this very entry.
     */
    final Map<Long, Long> domainOfUnmap = new HashMap<>();

    /** fq_flush_iotlb by sequence number → the trigger of the invalidation it issued. */
    final Map<Long, FlushTrigger> triggerOfFlush = new HashMap<>();

    /**
     * Unmaps whose queue_iova shows (its first fq_ring_free, FQ_ENQUEUE), and those FQ_ENQUEUEs. A
     * fq_ring_free after a flush began on that CPU is that flush's reap, even where the importer
     * took it for the queue_iova of an unmap whose own fq_ring_free hit was missed (e.g. line
     * 623472: the timer's reap in domain 2 after the unmap of 0xfff0b000 at line 623357, domain 5).
     */
    final Set<Long> queueIovaShown = new HashSet<>();

    private final List<Map<Long, Long>> unmapsAt =
        List.of(new HashMap<>(), new HashMap<>()); // per CPU, by IOVA
    private final Map<Long, Set<Long>> mappedPfns = new HashMap<>();
    private final Map<Long, List<Orphan>> orphansByPfn = new HashMap<>();
    private final List<ArrayDeque<IommuEvent>> openFlushes =
        List.of(new ArrayDeque<>(), new ArrayDeque<>());

    private record Orphan(long seq, List<Long> candidates) {}

    void accept(IommuEvent e) {
      if (e.getType() == EventType.MAP && e.getDomain() >= 0) {
        Mapping m = (Mapping) e.getPayload();
        pages(m.getIova(), m.getSize()).forEach(mapped(e.getDomain())::add);
      } else if (e.getType() == EventType.UNMAP) {
        Unmapping u = (Unmapping) e.getPayload();
        long pfn = u.getIova() >>> PAGE_SHIFT;
        unmapsAt.get(e.getCpu()).put(u.getIova(), e.getSeq());
        boolean known =
            e.getDomain() >= 0
                && (e.getAttribution() != Attribution.INFERRED
                    || mapped(e.getDomain()).contains(pfn));
        if (known) {
          pages(u.getIova(), u.getSize()).forEach(mapped(e.getDomain())::remove);
        } else {
          List<Long> candidates =
              mappedPfns.keySet().stream().filter(d -> mappedPfns.get(d).contains(pfn)).toList();
          orphansByPfn
              .computeIfAbsent(pfn, p -> new ArrayList<>())
              .add(new Orphan(e.getSeq(), candidates));
        }
      } else if (e.getPayload() instanceof IovaFree free && free.getPath() == IovaPath.FAST) {
        // One free reaps one entry: the oldest orphan it can be.
        for (Iterator<Orphan> it = orphansByPfn.getOrDefault(free.getPfn(), List.of()).iterator();
            it.hasNext(); ) {
          Orphan o = it.next();
          if (o.candidates.isEmpty() || o.candidates.contains(e.getDomain())) {
            domainOfUnmap.put(o.seq, e.getDomain());
            it.remove();
            break;
          }
        }
      } else if (e.getType() == EventType.FQ_ENQUEUE) {
        Long unmap = unmapsAt.get(e.getCpu()).remove(((FlushQueueOp) e.getPayload()).getIova());
        if (unmap != null) {
          queueIovaShown.add(unmap);
          queueIovaShown.add(e.getSeq());
        }
      } else if (e.getType() == EventType.FQ_TIMEOUT) {
        unmapsAt.get(e.getCpu()).clear();
      } else if (e.getType() == EventType.FQ_FLUSH) {
        unmapsAt.get(e.getCpu()).clear();
        openFlushes.get(e.getCpu()).push(e);
      } else if (isDomainFlush(e)) {
        // The innermost open fq_flush_iotlb of this CPU: a full-ring flush in an interrupt can nest
        // in the softirq's timer flush.
        IommuEvent start = openFlushes.get(e.getCpu()).peek();
        if (start != null && start.getDomain() == e.getDomain()) {
          openFlushes.get(e.getCpu()).pop();
          triggerOfFlush.put(start.getSeq(), ((IotlbInvalidation) e.getPayload()).getTrigger());
        }
      }
    }

    private Set<Long> mapped(long domain) {
      return mappedPfns.computeIfAbsent(domain, d -> new HashSet<>());
    }
  }

  private static LongStream pages(long iova, long size) {
    return LongStream.range(
        iova >>> PAGE_SHIFT, (iova + size + (1 << PAGE_SHIFT) - 1) >>> PAGE_SHIFT);
  }

  /** Drives one following queue per domain. */
  private static final class Replay {
    final Map<Long, FlushQueue> queues = new TreeMap<>();
    private final TraceFacts facts;
    private final Map<Long, String> devices = new TreeMap<>();
    private final Map<Long, Long> kernelFrees = new TreeMap<>();
    private final List<Long> timerDelaysNs = new ArrayList<>();
    private final EventType[] previous = new EventType[CPUS];
    // Per domain: pfn → when the model released it, until the kernel's free_iova_fast of it.
    private final Map<Long, Map<Long, Long>> releasedAt = new HashMap<>();
    private long now;
    long unattributed;
    long freesMatched;
    long freesOfHeldIovas;
    long maxReleaseLeadNs;

    Replay(TraceFacts facts) {
      this.facts = facts;
    }

    void apply(IommuEvent e) {
      now = e.getTsNs();
      int cpu = e.getCpu();
      long domain = e.getDomain();
      switch (e.getType()) {
        case UNMAP -> {
          Unmapping u = (Unmapping) e.getPayload();
          if (!facts.queueIovaShown.contains(e.getSeq())) {
            enqueue(
                e, facts.domainOfUnmap.getOrDefault(e.getSeq(), domain), u.getIova(), u.getSize());
          }
        }
        case FQ_ENQUEUE -> {
          FlushQueueOp op = (FlushQueueOp) e.getPayload();
          if (facts.queueIovaShown.contains(e.getSeq()))
            enqueue(e, domain, op.getIova(), op.getSize());
        }
        case FQ_FLUSH -> {
          FlushReason reason =
              reasonOf(facts.triggerOfFlush.getOrDefault(e.getSeq(), FlushTrigger.UNKNOWN));
          if (reason == FlushReason.TIMER
              && queue(domain).timerArmedAtNs() != FlushQueue.NOT_ARMED) {
            timerDelaysNs.add(now - queue(domain).timerArmedAtNs());
          }
          if (reason != null) queue(domain).flushStarted(e.getSeq(), now, cpu, reason);
        }
        case IOTLB_FLUSH -> {
          if (isDomainFlush(e)) {
            FlushReason reason = reasonOf(((IotlbInvalidation) e.getPayload()).getTrigger());
            queue(domain)
                .flushFinished(e.getSeq(), now, cpu, reason != null ? reason : unlabelled(cpu));
          }
        }
        case IOVA_FREE -> {
          IovaFree free = (IovaFree) e.getPayload();
          if (free.getPath() == IovaPath.FAST) kernelFreed(domain, free.getPfn());
        }
        default -> {}
      }
      previous[cpu] = e.getType();
    }

    private void enqueue(IommuEvent e, long domain, long iova, long size) {
      if (domain < 0) {
        unattributed++;
        return;
      }
      if (e.getDevice() != null) devices.putIfAbsent(domain, e.getDevice());
      queue(domain)
          .enqueue(
              e.getSeq(),
              now,
              e.getCpu(),
              iova >>> PAGE_SHIFT,
              (size + (1 << PAGE_SHIFT) - 1) >>> PAGE_SHIFT,
              FlushQueue.NO_TABLE_PAGES);
    }

    /**
     * The one domain flush whose fq_flush_timeout, fq_flush_iotlb and intel_flush_iotlb_all kprobe
     * hits were all missed (30.756869 s, in a softirq after an allocation): queue_iova's when it
     * follows the unmap on that CPU, else the timer's.
     */
    private FlushReason unlabelled(int cpu) {
      boolean inQueueIova =
          previous[cpu] == EventType.UNMAP || previous[cpu] == EventType.FQ_ENQUEUE;
      return inQueueIova ? FlushReason.FULL : FlushReason.TIMER;
    }

    private void kernelFreed(long domain, long pfn) {
      kernelFrees.merge(domain, 1L, Long::sum);
      Long releasedNs = releasedAt.getOrDefault(domain, Map.of()).remove(pfn);
      if (releasedNs == null) {
        freesOfHeldIovas++;
      } else {
        freesMatched++;
        maxReleaseLeadNs = Math.max(maxReleaseLeadNs, now - releasedNs);
      }
    }

    private FlushQueue queue(long domain) {
      return queues.computeIfAbsent(
          domain,
          d ->
              FlushQueue.following(
                  FlushQueueParams.PER_CPU,
                  CPUS,
                  FlushQueue.NO_OWN_TIMER,
                  new FlushQueueListener() {
                    @Override
                    public void iovaReleased(long pfn, long pages) {
                      releasedAt.computeIfAbsent(d, x -> new HashMap<>()).put(pfn, now);
                    }
                  }));
    }

    long medianTimerDelayNs() {
      return timerDelaysNs.stream().sorted().skip(timerDelaysNs.size() / 2).findFirst().orElse(0L);
    }

    void print() {
      System.out.println(
          "domain device       queued  timer flushes    full flushes  unmatched unconfirmed"
              + " max-ring released kernel-frees");
      System.out.println("                            observed/model  observed/model");
      queues.forEach(
          (d, q) ->
              System.out.printf(
                  "%6d %-12s %7d %8d/%-6d %8d/%-6d %9d %11d %8d %8d %12d%n",
                  d,
                  devices.get(d),
                  q.count(Stat.ENTRIES_QUEUED),
                  q.count(Stat.OBSERVED_TIMER_FLUSHES),
                  q.count(Stat.TIMER_FLUSHES),
                  q.count(Stat.OBSERVED_FULL_FLUSHES),
                  q.count(Stat.FULL_FLUSHES),
                  q.count(Stat.UNMATCHED_OBSERVED_FLUSHES),
                  q.count(Stat.UNCONFIRMED_PREDICTED_FLUSHES),
                  q.maxOccupancy(),
                  q.count(Stat.IOVAS_RELEASED),
                  kernelFrees.getOrDefault(d, 0L)));
      queues.forEach(
          (d, q) -> q.divergences().forEach(x -> System.out.println("domain " + d + ": " + x)));
      System.out.printf(
          "unattributed unmaps %d; kernel timer fired %.2f ms (median) after the model armed it%n",
          unattributed, medianTimerDelayNs() / 1e6);
      System.out.printf(
          "kernel frees: %d of IOVAs the model had released (at most %.2f ms before), "
              + "%d of IOVAs it held%n",
          freesMatched, maxReleaseLeadNs / 1e6, freesOfHeldIovas);
    }
  }
}
