package io.iommureplay.bench.workload;

import io.iommureplay.model.iotlb.PsiAlignment;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.Unmapping;
import java.util.function.Consumer;

/**
 * An NVMe drive (the captures' 0000:00:05.0) in a strict (DMA) domain: requests of 64–512 KiB
 * mapped with {@code dma_map_sg()} on either of 2 CPUs, {@value #IN_FLIGHT_PER_CPU} in flight per
 * CPU (the I/O queue's depth); a request completes on the CPU that issued it. As a capture shows
 * them:
 *
 * <ul>
 *   <li>issue: one IOVA_ALLOC for the whole request ({@code iommu_dma_map_sg()}), then a MAP line
 *       per physically contiguous segment, 4 KiB to 128 KiB, mostly small;
 *   <li>completion: one UNMAP of the whole request, the IOTLB_FLUSH that {@code
 *       intel_iommu_tlb_sync()} submits (page-selective, trigger SYNC, the address mask covering
 *       the range: {@link PsiAlignment}), then IOVA_FREE.
 * </ul>
 */
final class NvmeStrictWorkload extends SyntheticDevice {
  /** Requests a CPU has issued and not yet completed. */
  static final int IN_FLIGHT_PER_CPU = 32;

  private static final int MIN_PAGES = 16; // 64 KiB
  private static final int MAX_PAGES = 128; // 512 KiB

  /** Segment lengths in pages, by how often a segment has them (in 1/100). */
  private static final int[] SEGMENT_PAGES = {1, 2, 4, 8, 16, 32};

  private static final int[] SEGMENT_PERCENT = {40, 20, 20, 10, 7, 3};

  private static final long MIN_GAP_NS = 2_000;
  private static final long MAX_GAP_NS = 8_000;

  /** The 6.1 driver's rule and QEMU's MAMV, as in the captures. */
  private static final PsiAlignment PSI =
      new PsiAlignment(PsiAlignment.Rule.SHARED_BITS, PsiAlignment.QEMU_MAMV);

  private final int inFlightPerCpu;
  private final LongFifo[] inFlight = new LongFifo[CPUS]; // pfn, pages per request, oldest first

  NvmeStrictWorkload(long seed, int inFlightPerCpu) {
    super(seed, 3, "0000:00:05.0", 2, DomainType.DMA);
    this.inFlightPerCpu = inFlightPerCpu;
    for (int cpu = 0; cpu < CPUS; cpu++) inFlight[cpu] = new LongFifo();
  }

  @Override
  public void next(Consumer<IommuEvent> out) {
    nowNs += random.nextLong(MIN_GAP_NS, MAX_GAP_NS + 1);
    int cpu = random.nextInt(CPUS);
    if (inFlight[cpu].size() / 2 >= inFlightPerCpu) {
      complete(cpu, inFlight[cpu].remove(), inFlight[cpu].remove(), out);
    }
    issue(cpu, out);
  }

  /** {@code iommu_dma_map_sg()}: one IOVA range, a map line per contiguous segment. */
  private void issue(int cpu, Consumer<IommuEvent> out) {
    long pages = random.nextInt(MIN_PAGES, MAX_PAGES + 1);
    long pfn = allocIova(cpu, pages, out);
    int prot = (random.nextBoolean() ? 1 : 2) | IOMMU_CACHE; // a write reads memory, a read writes
    long mapped = 0;
    while (mapped < pages) {
      long segment = Math.min(segmentPages(), pages - mapped);
      map(
          cpu,
          (pfn + mapped) << PAGE_SHIFT,
          segment << PAGE_SHIFT,
          physical(Long.highestOneBit(segment)),
          prot,
          out);
      mapped += segment;
    }
    inFlight[cpu].add(pfn);
    inFlight[cpu].add(pages);
  }

  /** {@code __iommu_dma_unmap()} of a strict domain: unmap, flush, free. */
  private void complete(int cpu, long pfn, long pages, Consumer<IommuEvent> out) {
    long address = pfn << PAGE_SHIFT;
    long size = pages << PAGE_SHIFT;
    out.accept(
        event(
            cpu,
            EventType.UNMAP,
            "unmap",
            Attribution.CPU_CONTEXT,
            new Unmapping(address, size, size, null)));
    IotlbInvalidation flush = PSI.strictUnmap(address, size, true);
    flush.setHwDomainId((int) domain);
    flush.setIommu("dmar0");
    out.accept(
        event(cpu, EventType.IOTLB_FLUSH, "qi_submit iotlb_inv", Attribution.CPU_CONTEXT, flush));
    freeIova(cpu, pfn, pages, out);
  }

  private long segmentPages() {
    int roll = random.nextInt(100);
    for (int i = 0; i < SEGMENT_PAGES.length; i++) {
      roll -= SEGMENT_PERCENT[i];
      if (roll < 0) return SEGMENT_PAGES[i];
    }
    throw new AssertionError("percentages do not add up to 100");
  }
}
