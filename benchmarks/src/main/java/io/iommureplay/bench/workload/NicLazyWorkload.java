package io.iommureplay.bench.workload;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.Unmapping;
import java.util.List;
import java.util.function.Consumer;

/**
 * A NIC (the captures' e1000e, 0000:00:06.0) in a lazy (DMA_FQ) domain: each packet buffer is one 4
 * KiB page mapped with {@code dma_map_single()} on either of 2 CPUs, and unmapped on that CPU once
 * {@code inFlightPerCpu} newer buffers are mapped there. Per packet, as a capture shows it:
 *
 * <ul>
 *   <li>IOVA_ALLOC (one page), MAP;
 *   <li>once the CPU's ring of buffers is full, for the oldest one: UNMAP, FQ_ENQUEUE (queue_iova
 *       into that CPU's flush queue);
 *   <li>10 ms after the first entry of a batch was queued (dma-iommu's {@code fq_timer}), on the
 *       CPU that armed it: FQ_FLUSH (trigger FQ_TIMER), IOTLB_FLUSH (domain-selective, FQ_TIMER),
 *       then an IOVA_FREE for every entry of every CPU's queue, CPU 0's first ({@code
 *       fq_flush_timeout()}: flush, then {@code fq_ring_free()} for each possible CPU).
 * </ul>
 *
 * Packets come every 20–58 µs (39 µs on average), so a timer flush releases about 255 entries and
 * no per-CPU ring (255 entries) ever fills: this workload has no FQ_FULL flushes, and says so if it
 * would.
 */
final class NicLazyWorkload extends SyntheticDevice {
  /** Buffers a CPU has mapped and not yet unmapped: an RX ring's worth. */
  static final int IN_FLIGHT_PER_CPU = 256;

  /** IOVA_DEFAULT_FQ_SIZE − 1: entries a per-CPU flush queue holds. */
  private static final int FQ_CAPACITY = 255;

  /** IOVA_DEFAULT_FQ_TIMEOUT. */
  private static final long FQ_TIMEOUT_NS = 10_000_000L;

  private static final long MIN_GAP_NS = 20_000;
  private static final long MAX_GAP_NS = 58_000;

  /** The dma-iommu cookie: what the flush-queue probes print. */
  private static final long COOKIE = 0xff3deedd190ad400L;

  private static final long NOT_ARMED = Long.MIN_VALUE;

  private final int inFlightPerCpu;
  private final LongFifo[] inFlight = new LongFifo[CPUS]; // pfns, oldest first
  private final LongFifo[] flushQueue = new LongFifo[CPUS]; // pfns queued for release
  private long timerArmedAtNs = NOT_ARMED;
  private int timerCpu;

  NicLazyWorkload(long seed, int inFlightPerCpu) {
    super(seed, 4, "0000:00:06.0", 3, DomainType.DMA_FQ);
    this.inFlightPerCpu = inFlightPerCpu;
    for (int cpu = 0; cpu < CPUS; cpu++) {
      inFlight[cpu] = new LongFifo();
      flushQueue[cpu] = new LongFifo();
    }
  }

  @Override
  public void next(Consumer<IommuEvent> out) {
    nowNs += random.nextLong(MIN_GAP_NS, MAX_GAP_NS + 1);
    if (timerArmedAtNs != NOT_ARMED && nowNs - timerArmedAtNs >= FQ_TIMEOUT_NS) timerFlush(out);
    int cpu = random.nextInt(CPUS);
    long pfn = allocIova(cpu, 1, out);
    int prot = (random.nextBoolean() ? 1 : 2) | IOMMU_CACHE; // TX buffers read, RX written
    map(cpu, pfn << PAGE_SHIFT, PAGE_SIZE, physical(1), prot, out);
    inFlight[cpu].add(pfn);
    if (inFlight[cpu].size() > inFlightPerCpu) unmap(cpu, inFlight[cpu].remove(), out);
  }

  /** {@code __iommu_dma_unmap()} of a lazy domain: unmap, then {@code queue_iova()}. */
  private void unmap(int cpu, long pfn, Consumer<IommuEvent> out) {
    long address = pfn << PAGE_SHIFT;
    out.accept(
        event(
            cpu,
            EventType.UNMAP,
            "unmap",
            Attribution.CPU_CONTEXT,
            new Unmapping(address, PAGE_SIZE, PAGE_SIZE, null)));
    if (flushQueue[cpu].size() == FQ_CAPACITY) {
      throw new IllegalStateException(
          "flush queue of CPU " + cpu + " full: the packet rate is too high for timer flushes");
    }
    flushQueue[cpu].add(pfn);
    out.accept(
        event(
            cpu,
            EventType.FQ_ENQUEUE,
            "fq_ring_free",
            Attribution.TRACE,
            new FlushQueueOp(address, PAGE_SIZE, (long) cpu, COOKIE, FlushTrigger.UNKNOWN)));
    if (timerArmedAtNs == NOT_ARMED) {
      timerArmedAtNs = nowNs;
      timerCpu = cpu;
    }
  }

  /** {@code fq_flush_timeout()}. */
  private void timerFlush(Consumer<IommuEvent> out) {
    int cpu = timerCpu;
    timerArmedAtNs = NOT_ARMED;
    out.accept(
        event(
            cpu,
            EventType.FQ_FLUSH,
            "fq_flush_iotlb",
            Attribution.TRACE,
            new FlushQueueOp(null, null, null, COOKIE, FlushTrigger.FQ_TIMER)));
    out.accept(
        event(
            cpu,
            EventType.IOTLB_FLUSH,
            "qi_submit iotlb_inv",
            Attribution.CPU_CONTEXT,
            new IotlbInvalidation(
                FlushScope.DOMAIN,
                0L,
                0L,
                -1,
                false,
                (int) domain,
                null,
                null,
                "dmar0",
                FlushTrigger.FQ_TIMER,
                List.of())));
    for (LongFifo queue : flushQueue) {
      while (!queue.isEmpty()) freeIova(cpu, queue.remove(), 1, out);
    }
  }
}
