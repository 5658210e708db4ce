package io.iommureplay.model.flushqueue;

import io.iommureplay.model.flushqueue.Divergence.Kind;
import io.iommureplay.model.flushqueue.FlushQueueParams.Layout;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The flush queue of one lazily invalidated domain (Linux drivers/iommu/dma-iommu.c, the {@code
 * iommu_dma_cookie} of a DMA_FQ domain): an unmap's IOVA range and the page-table pages it freed
 * are queued, and given back only after a domain-wide IOTLB flush that started after the unmap has
 * finished. The rules, checked against the kernel source from v6.1 (the captures' kernel) to v6.18:
 *
 * <ul>
 *   <li>{@code queue_iova()}: reap the enqueuing CPU's ring; if it is still full ({@code
 *       fq_full()}), flush and reap again; append the entry ({@code fq_ring_add()}) stamped with
 *       {@code fq_flush_start_cnt}; arm the timer unless it is armed: once a batch, not per entry.
 *   <li>{@code fq_ring_free_locked()} (v6.1: {@code fq_ring_free()}): from the oldest entry on,
 *       while its stamp is below {@code fq_flush_finish_cnt}, release its table pages, then its
 *       IOVA.
 *   <li>{@code fq_flush_iotlb()}: count a flush started, flush the IOTLB, count a flush finished.
 *   <li>{@code fq_flush_timeout()}: disarm the timer, flush, reap every CPU's ring.
 * </ul>
 *
 * Flushes come from a full ring or the timer, never from a map. The rings start empty with both
 * counters at 0 ({@code iommu_dma_init_fq()}).
 *
 * <p>Two ways of driving it. {@link #predicting} decides the flushes itself and has its {@link
 * FlushQueueListener} execute them. {@link #following} replays a trace that shows the kernel's
 * flushes: the caller reports each ({@link #flushStarted}, {@link #flushFinished}), the queue
 * applies it as the kernel did and, alongside, predicts as it would have; disagreements are counted
 * ({@link Stat}) and the first ones kept ({@link #divergences()}).
 *
 * <p>Time is the replayed events' time: every entry point first fires a timer that came due at or
 * before it ({@link #advanceTo}). Not thread-safe; deterministic; no allocation per entry.
 */
public final class FlushQueue {
  /** {@code freelist} of an entry whose unmap freed no page-table page. */
  public static final long NO_TABLE_PAGES = -1;

  /** {@link #timerArmedAtNs()} while the timer is not armed. */
  public static final long NOT_ARMED = Long.MIN_VALUE;

  /** {@link #following} grace of a queue whose timer fires only when the kernel's is seen to. */
  public static final long NO_OWN_TIMER = Long.MAX_VALUE;

  /** {@link Divergence#event()} of a timer that came due between events. */
  public static final long NO_EVENT = -1;

  /** How many divergences {@link #divergences()} keeps. */
  public static final int KEPT_DIVERGENCES = 32;

  /** Most entry slots of all rings together. */
  public static final int MAX_SLOTS = 1 << 22;

  private static final int FORMAT_VERSION = 1;
  // An observed flush per CPU and reason: a timer flush in softirq can be interrupted by an unmap
  // whose full ring flushes on the same CPU. CONFIRMED: the model had flushed already, at the
  // enqueue.
  private static final byte IDLE = 0;
  private static final byte APPLIED = 1;
  private static final byte CONFIRMED = 2;

  /** Counters. Snapshots write them by ordinal: constants are only ever appended. */
  public enum Stat {
    /**
     * Timer flushes the model predicts: its own timer fired, or the kernel's fired while the
     * model's was armed.
     */
    TIMER_FLUSHES,
    /** Full-ring flushes the model predicts: enqueues that found the ring full after reaping. */
    FULL_FLUSHES,
    /** Following: the kernel's timer flushes. */
    OBSERVED_TIMER_FLUSHES,
    /** Following: the kernel's full-ring flushes. */
    OBSERVED_FULL_FLUSHES,
    /** Following: kernel flushes the model did not predict. */
    UNMATCHED_OBSERVED_FLUSHES,
    /** Following: flushes the model predicted and the kernel did not do. */
    UNCONFIRMED_PREDICTED_FLUSHES,
    ENTRIES_QUEUED,
    IOVAS_RELEASED
  }

  private final FlushQueueParams params;
  private final int cpus;
  private final boolean follow;
  private final long fireDelayNs;
  private final FlushQueueListener listener;
  private final boolean perCpu;
  private final int capacity;
  private final int slots;

  // Ring r is slots [r * slots, (r + 1) * slots) of the entry arrays; its entries run head to tail.
  private final long[] pfn;
  private final long[] pages;
  private final long[] freelist;
  private final long[] stamp;
  private final int[] head;
  private final int[] tail;
  private int lastAppendCpu = -1;

  private long startCount;
  private long finishCount;
  private long timerArmedAt = NOT_ARMED;
  private int maxOccupancy;
  private final long[] stats = new long[Stat.values().length];

  private final Divergence[] expectedFull; // per CPU: a full ring the kernel has yet to flush
  private final byte[] inFlight;
  private final List<Divergence> divergences = new ArrayList<>();

  private FlushQueue(
      FlushQueueParams params,
      int cpus,
      boolean follow,
      long fireDelayNs,
      FlushQueueListener listener) {
    this.params = Objects.requireNonNull(params, "params");
    this.listener = Objects.requireNonNull(listener, "listener");
    if (cpus < 1) throw new IllegalArgumentException("cpus must be positive: " + cpus);
    if (fireDelayNs <= 0)
      throw new IllegalArgumentException("timer delay must be positive: " + fireDelayNs);
    this.cpus = cpus;
    this.follow = follow;
    this.fireDelayNs = fireDelayNs;
    perCpu = params.layout() == Layout.PER_CPU;
    capacity = params.capacity();
    int rings = perCpu ? cpus : 1;
    if (rings * (capacity + 1L) > MAX_SLOTS)
      throw new IllegalArgumentException("more than " + MAX_SLOTS + " slots");
    slots = capacity + 1;
    pfn = new long[rings * slots];
    pages = new long[rings * slots];
    freelist = new long[rings * slots];
    stamp = new long[rings * slots];
    head = new int[rings];
    tail = new int[rings];
    expectedFull = new Divergence[cpus];
    inFlight = new byte[cpus * FlushReason.values().length];
  }

  /** A queue that decides its flushes itself: on a full ring and on its timer. */
  public static FlushQueue predicting(
      FlushQueueParams params, int cpus, FlushQueueListener listener) {
    return new FlushQueue(params, cpus, false, params.timeoutNs(), listener);
  }

  /**
   * A queue that follows the kernel's flushes reported from a trace.
   *
   * @param cpus possible CPUs (the rings {@code fq_flush_timeout()} reaps)
   * @param ownTimerGraceNs how long past its timeout the model's timer fires by itself when the
   *     kernel's has not been seen to, or {@link #NO_OWN_TIMER}; the kernel's runs late under load
   *     and emulation (a median 16 ms instead of 10 on the captures)
   */
  public static FlushQueue following(
      FlushQueueParams params, int cpus, long ownTimerGraceNs, FlushQueueListener listener) {
    if (params.layout() == Layout.LEGACY_GLOBAL) {
      throw new IllegalArgumentException(
          "following replays dma-iommu flush queues, not the legacy intel-iommu table");
    }
    if (ownTimerGraceNs < 0)
      throw new IllegalArgumentException("negative grace: " + ownTimerGraceNs);
    long delay =
        ownTimerGraceNs > Long.MAX_VALUE - params.timeoutNs()
            ? Long.MAX_VALUE
            : params.timeoutNs() + ownTimerGraceNs;
    return new FlushQueue(params, cpus, true, delay, listener);
  }

  /**
   * {@code queue_iova()}: an unmap on {@code cpu} queues its IOVA range and the table pages it
   * freed. A full ring flushes first (following, the kernel is expected to have flushed there too).
   *
   * @param event the caller's id of the event, named in divergences
   * @param freelist the caller's id of the freed table pages, or {@link #NO_TABLE_PAGES}
   */
  public void enqueue(long event, long nowNs, int cpu, long pfn, long pages, long freelist) {
    int ring = ring(cpu);
    advanceTo(nowNs);
    if (expectedFull[cpu] != null) {
      diverge(expectedFull[cpu], Stat.UNCONFIRMED_PREDICTED_FLUSHES);
      expectedFull[cpu] = null;
    }
    reap(ring); // entries that flushes on other CPUs have covered
    if (entries(ring) == capacity) { // fq_full()
      stats[Stat.FULL_FLUSHES.ordinal()]++;
      if (follow)
        expectedFull[cpu] =
            new Divergence(Kind.FULL_FLUSH_NOT_OBSERVED, event, nowNs, cpu, capacity);
      flush(FlushReason.FULL);
      reap(ring);
    }
    append(ring, cpu, pfn, pages, freelist);
    if (timerArmedAt == NOT_ARMED) timerArmedAt = nowNs; // mod_timer() only when !fq_timer_on
  }

  /**
   * Fires the timer if it came due at or before {@code nowNs} ({@code fq_flush_timeout()}: disarm,
   * flush, reap every CPU's ring); only an enqueue arms it again, so it fires once. Call it before
   * applying an event at {@code nowNs}; the other entry points call it themselves. A following
   * queue's timer fires only with a grace ({@link #following}).
   */
  public void advanceTo(long nowNs) {
    if (timerArmedAt == NOT_ARMED || nowNs - timerArmedAt < fireDelayNs) return;
    long dueNs = timerArmedAt + fireDelayNs;
    timerArmedAt = NOT_ARMED;
    stats[Stat.TIMER_FLUSHES.ordinal()]++;
    if (follow) {
      diverge(
          new Divergence(Kind.TIMER_FLUSH_NOT_OBSERVED, NO_EVENT, dueNs, -1, 0),
          Stat.UNCONFIRMED_PREDICTED_FLUSHES);
    }
    flush(FlushReason.TIMER);
    reapAll();
  }

  /**
   * Following: the kernel entered {@code fq_flush_iotlb()} on {@code cpu}. Counts a flush started,
   * so entries queued from now on are not released when it finishes. A timer flush disarms the
   * timer first, as {@code fq_flush_timeout()} does, so an enqueue meanwhile arms it again. A start
   * while one of the same reason is in flight on that CPU finishes the earlier one (its finish went
   * unreported).
   */
  public void flushStarted(long event, long nowNs, int cpu, FlushReason reason) {
    int k = inFlightIndex(cpu, reason);
    advanceTo(nowNs);
    if (inFlight[k] != IDLE) flushFinished(event, nowNs, cpu, reason);
    boolean predicted;
    if (reason == FlushReason.TIMER) {
      stats[Stat.OBSERVED_TIMER_FLUSHES.ordinal()]++;
      predicted = timerArmedAt != NOT_ARMED;
      timerArmedAt = NOT_ARMED;
      if (predicted) stats[Stat.TIMER_FLUSHES.ordinal()]++;
    } else {
      stats[Stat.OBSERVED_FULL_FLUSHES.ordinal()]++;
      predicted = expectedFull[cpu] != null;
      expectedFull[cpu] = null;
    }
    if (!predicted) {
      int ring = ring(cpu);
      boolean full = reason == FlushReason.FULL;
      int held =
          entries(ring)
              - (full && queuedLastBy(ring, cpu) ? 1 : 0); // before the entry being queued
      Kind kind = full ? Kind.UNPREDICTED_FULL_FLUSH : Kind.UNPREDICTED_TIMER_FLUSH;
      diverge(new Divergence(kind, event, nowNs, cpu, held), Stat.UNMATCHED_OBSERVED_FLUSHES);
    }
    if (predicted && reason == FlushReason.FULL) {
      inFlight[k] = CONFIRMED;
    } else {
      inFlight[k] = APPLIED;
      startCount++;
    }
  }

  /**
   * Following: the kernel's flush on {@code cpu} is done. Counts it finished and reaps as the
   * kernel does next: {@code fq_flush_timeout()} every CPU's ring; {@code queue_iova()} the ring of
   * {@code cpu}, before appending the entry it was queueing — so the entry {@code cpu} queued last
   * is stamped anew and stays. A finish whose start was not reported (a missed kprobe hit) counts
   * as both.
   */
  public void flushFinished(long event, long nowNs, int cpu, FlushReason reason) {
    int k = inFlightIndex(cpu, reason);
    advanceTo(nowNs);
    if (inFlight[k] == IDLE) flushStarted(event, nowNs, cpu, reason);
    boolean applied = inFlight[k] == APPLIED;
    inFlight[k] = IDLE;
    if (!applied) return;
    finishCount++;
    if (reason == FlushReason.TIMER) {
      reapAll();
      return;
    }
    int ring = ring(cpu);
    if (queuedLastBy(ring, cpu))
      stamp[ring * slots + (tail[ring] == 0 ? slots : tail[ring]) - 1] = startCount;
    reap(ring);
  }

  public FlushQueueParams params() {
    return params;
  }

  public int cpus() {
    return cpus;
  }

  public boolean isFollowing() {
    return follow;
  }

  public long count(Stat stat) {
    return stats[stat.ordinal()];
  }

  /** Entries in the ring {@code cpu} queues into. */
  public int occupancy(int cpu) {
    return entries(ring(cpu));
  }

  /** The most entries any ring held. */
  /**
   * Following: whether {@code cpu}'s ring was found full and flushed by the model, and the kernel's
   * flush for it is still to come in the trace.
   */
  public boolean awaitingObservedFlush(int cpu) {
    return follow && cpu < expectedFull.length && expectedFull[cpu] != null;
  }

  public int maxOccupancy() {
    return maxOccupancy;
  }

  /** When the armed timer was armed, or {@link #NOT_ARMED}. */
  public long timerArmedAtNs() {
    return timerArmedAt;
  }

  /** The first {@link #KEPT_DIVERGENCES} divergences; {@link Stat} counts them all. */
  public List<Divergence> divergences() {
    return Collections.unmodifiableList(divergences);
  }

  // fq_flush_iotlb(), decided by the queue.
  private void flush(FlushReason reason) {
    startCount++;
    listener.flush(reason);
    finishCount++;
    if (params.layout() == Layout.LEGACY_GLOBAL)
      timerArmedAt = NOT_ARMED; // flush_unmaps(): timer_on = 0
  }

  // fq_ring_free_locked()
  private void reap(int ring) {
    int base = ring * slots;
    for (int h = head[ring]; h != tail[ring] && stamp[base + h] < finishCount; h = head[ring]) {
      if (freelist[base + h] != NO_TABLE_PAGES) listener.tablePagesReleased(freelist[base + h]);
      listener.iovaReleased(pfn[base + h], pages[base + h]);
      stats[Stat.IOVAS_RELEASED.ordinal()]++;
      head[ring] = h + 1 == slots ? 0 : h + 1;
    }
  }

  // fq_flush_timeout(): for_each_possible_cpu() fq_ring_free()
  private void reapAll() {
    for (int ring = 0; ring < head.length; ring++) reap(ring);
  }

  // fq_ring_add() and the entry's fields
  private void append(int ring, int cpu, long entryPfn, long entryPages, long entryFreelist) {
    int t = tail[ring];
    int slot = ring * slots + t;
    pfn[slot] = entryPfn;
    pages[slot] = entryPages;
    freelist[slot] = entryFreelist;
    stamp[slot] = startCount;
    tail[ring] = t + 1 == slots ? 0 : t + 1;
    lastAppendCpu = cpu;
    stats[Stat.ENTRIES_QUEUED.ordinal()]++;
    maxOccupancy = Math.max(maxOccupancy, entries(ring));
  }

  /**
   * Whether the newest entry of {@code ring} is {@code cpu}'s: the one its queue_iova() was
   * queueing.
   */
  private boolean queuedLastBy(int ring, int cpu) {
    return entries(ring) > 0 && (perCpu || lastAppendCpu == cpu);
  }

  private int entries(int ring) {
    int n = tail[ring] - head[ring];
    return n < 0 ? n + slots : n;
  }

  private int ring(int cpu) {
    Objects.checkIndex(cpu, cpus);
    return perCpu ? cpu : 0;
  }

  private int inFlightIndex(int cpu, FlushReason reason) {
    if (!follow)
      throw new IllegalStateException("observed flushes are reported to a following queue only");
    return Objects.checkIndex(cpu, cpus) * FlushReason.values().length + reason.ordinal();
  }

  private void diverge(Divergence divergence, Stat stat) {
    stats[stat.ordinal()]++;
    if (divergences.size() < KEPT_DIVERGENCES) divergences.add(divergence);
  }

  // ---- snapshots ----

  /** Writes the whole state, not the listener; {@link #restore} reads it back. */
  public void save(SnapshotOutput out) {
    out.writeVarInt(FORMAT_VERSION)
        .writeEnum(params.layout())
        .writeVarInt(params.ringSize())
        .writeVarLong(params.timeoutNs())
        .writeVarInt(cpus)
        .writeBoolean(follow)
        .writeVarLong(fireDelayNs)
        .writeVarLong(startCount)
        .writeVarLong(finishCount)
        .writeSignedVarLong(timerArmedAt)
        .writeVarInt(maxOccupancy)
        .writeSignedVarLong(lastAppendCpu);
    for (int ring = 0; ring < head.length; ring++) {
      out.writeVarInt(head[ring]).writeVarInt(tail[ring]);
      for (int i = head[ring]; i != tail[ring]; i = i + 1 == slots ? 0 : i + 1) {
        int slot = ring * slots + i;
        out.writeVarLong(pfn[slot])
            .writeVarLong(pages[slot])
            .writeSignedVarLong(freelist[slot])
            .writeVarLong(stamp[slot]);
      }
    }
    out.writeVarInt(stats.length);
    for (long value : stats) out.writeVarLong(value);
    for (byte state : inFlight) out.writeVarInt(state);
    for (Divergence d : expectedFull) {
      out.writeBoolean(d != null);
      if (d != null) write(out, d);
    }
    out.writeVarInt(divergences.size());
    for (Divergence d : divergences) write(out, d);
  }

  /**
   * Reads what {@link #save} wrote: a queue that goes on exactly as the saved one would have.
   *
   * @throws SnapshotFormatException if the snapshot is truncated, corrupt or of another version
   */
  public static FlushQueue restore(SnapshotInput in, FlushQueueListener listener) {
    int version = in.readVarInt();
    if (version != FORMAT_VERSION)
      throw new SnapshotFormatException("unknown flush-queue snapshot version " + version);
    FlushQueue q;
    try {
      FlushQueueParams params =
          new FlushQueueParams(in.readEnum(Layout.class), in.readVarInt(), in.readVarLong());
      q = new FlushQueue(params, in.readCount(), in.readBoolean(), in.readVarLong(), listener);
    } catch (IllegalArgumentException e) {
      throw new SnapshotFormatException("bad flush-queue configuration: " + e.getMessage());
    }
    q.startCount = in.readVarLong();
    q.finishCount = in.readVarLong();
    q.timerArmedAt = in.readSignedVarLong();
    q.maxOccupancy = in.readVarInt();
    q.lastAppendCpu = (int) in.readSignedVarLong();
    for (int ring = 0; ring < q.head.length; ring++) {
      q.head[ring] = q.readSlot(in);
      q.tail[ring] = q.readSlot(in);
      for (int i = q.head[ring]; i != q.tail[ring]; i = i + 1 == q.slots ? 0 : i + 1) {
        int slot = ring * q.slots + i;
        q.pfn[slot] = in.readVarLong();
        q.pages[slot] = in.readVarLong();
        q.freelist[slot] = in.readSignedVarLong();
        q.stamp[slot] = in.readVarLong();
      }
    }
    int stats = in.readVarInt();
    if (stats > q.stats.length) {
      throw new SnapshotFormatException(
          stats + " flush-queue counters, this version knows " + q.stats.length);
    }
    for (int i = 0; i < stats; i++) q.stats[i] = in.readVarLong();
    for (int i = 0; i < q.inFlight.length; i++) {
      int state = in.readVarInt();
      if (state > CONFIRMED)
        throw new SnapshotFormatException("bad in-flight flush state " + state);
      q.inFlight[i] = (byte) state;
    }
    for (int cpu = 0; cpu < q.cpus; cpu++)
      q.expectedFull[cpu] = in.readBoolean() ? readDivergence(in) : null;
    int kept = in.readVarInt();
    if (kept > KEPT_DIVERGENCES) {
      throw new SnapshotFormatException(kept + " divergences kept, at most " + KEPT_DIVERGENCES);
    }
    for (int i = 0; i < kept; i++) q.divergences.add(readDivergence(in));
    return q;
  }

  private int readSlot(SnapshotInput in) {
    int slot = in.readVarInt();
    if (slot >= slots)
      throw new SnapshotFormatException("ring position " + slot + " outside a ring of " + slots);
    return slot;
  }

  private static void write(SnapshotOutput out, Divergence d) {
    out.writeEnum(d.kind())
        .writeSignedVarLong(d.event())
        .writeSignedVarLong(d.timeNs())
        .writeSignedVarLong(d.cpu())
        .writeVarInt(d.occupancy());
  }

  private static Divergence readDivergence(SnapshotInput in) {
    return new Divergence(
        in.readEnum(Kind.class),
        in.readSignedVarLong(),
        in.readSignedVarLong(),
        (int) in.readSignedVarLong(),
        in.readVarInt());
  }
}
