package io.iommureplay.bench.workload;

import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.iova.IovaAllocator;
import io.iommureplay.model.iova.KernelProfile;
import io.iommureplay.model.iova.LinuxIovaAllocator;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.DeviceBinding;
import io.iommureplay.schema.DomainLifecycle;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaPath;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.PageTableFormat;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * One PCI device alone in a DMA domain of a 2-CPU host, traced the way the captures in {@code
 * shared/traces} were (Linux 6.1, Intel VT-d, dma-iommu) and imported: the same event types,
 * payloads, attributions and source names as the importer gives a capture.
 *
 * <p>The kernel's choices are computed, not made up: IOVAs come from a {@link LinuxIovaAllocator}
 * driven as dma-iommu drives the kernel's ({@code iommu_dma_alloc_iova()}: the 32-bit attempt, then
 * the full mask; {@code free_iova_fast()} on the freeing CPU), so the model a stream is replayed
 * into agrees with every pfn in it. Deterministic from the seed.
 */
abstract class SyntheticDevice implements Workload {
  /** CPUs of the host. */
  static final int CPUS = 2;

  /**
   * The kernel whose IOVA allocator and dma-iommu rules the streams follow: the model's default
   * (v6.7+), so that the benchmarks time the model as it ships.
   */
  static final KernelProfile KERNEL = ModelConfig.defaults().allocatorProfile();

  static final int PAGE_SHIFT = 12;
  static final long PAGE_SIZE = 1L << PAGE_SHIFT;

  /** {@code DMA_BIT_MASK(32) >> shift}: dma-iommu tries below 4 GiB first for PCI devices. */
  static final long DMA32_LIMIT_PFN = (1L << 32 >> PAGE_SHIFT) - 1;

  /** A 64-bit DMA mask cut to the 48-bit aperture of a 4-level VT-d domain. */
  static final long FULL_LIMIT_PFN = (1L << 48 >> PAGE_SHIFT) - 1;

  /** IOMMU_CACHE: dma-iommu sets it for coherent devices. */
  static final int IOMMU_CACHE = 4;

  /** The IOVA_RESERVE ranges of every domain in the captures (QEMU q35: MSI window, PCI holes). */
  private static final long[][] RESERVED_PFNS = {
    {0xa0, 0xbf}, {0x80000, 0xaffff}, {0xc0000, 0xfeeff}, {0x140000, 0x93ffff}, {0xfef00, 0xfefff}
  };

  private static final String HOST = "bench";

  /** How far the recording clock moves from one event of an I/O to the next. */
  private static final long EVENT_NS = 250;

  protected final SplittableRandom random;
  protected final LinuxIovaAllocator iova;
  protected final long domain;
  protected final String device;
  private final int group;
  private final DomainType type;
  private long seq;

  /** A 32-bit attempt failed: with a sticky fallback, no more are made (pci_32bit_workaround). */
  private boolean sacFailed;

  protected long nowNs = 1_000_000_000L;

  SyntheticDevice(long seed, long domain, String device, int group, DomainType type) {
    this.random = new SplittableRandom(seed);
    this.domain = domain;
    this.device = device;
    this.group = group;
    this.type = type;
    this.iova = new LinuxIovaAllocator(KERNEL, CPUS, PAGE_SHIFT, 1);
  }

  /** The domain's type, its attach, init_iova_domain() and the reserved ranges. */
  @Override
  public void start(Consumer<IommuEvent> out) {
    int cpu = 0;
    out.accept(
        event(
            cpu,
            EventType.DOMAIN_ALLOC,
            "domain_alloc",
            Attribution.TRACE,
            new DomainLifecycle(type, PageTableFormat.UNKNOWN, 48, null)));
    out.accept(
        event(
            cpu,
            EventType.ATTACH,
            "attach_device_to_domain",
            Attribution.TRACE,
            new DeviceBinding(group)));
    out.accept(
        event(
            cpu,
            EventType.IOVA_DOMAIN_INIT,
            "init_iova_domain",
            Attribution.CPU_CONTEXT,
            new IovaDomainInit(PAGE_SIZE, 1L, null, group)));
    for (long[] range : RESERVED_PFNS) {
      iova.reserve(range[0], range[1]);
      out.accept(
          event(
              cpu,
              EventType.IOVA_RESERVE,
              "reserve_iova",
              Attribution.TRACE,
              new IovaRange(range[0], range[1])));
    }
  }

  /**
   * {@code iommu_dma_alloc_iova()}: {@code pages} rounded up to a power of two below 32 (so that
   * the rcache can take them back), tried below 4 GiB (after a failure there, never again if the
   * kernel's fallback is sticky), then under the full mask; an IOVA_ALLOC per attempt.
   *
   * @return the first pfn
   */
  protected long allocIova(int cpu, long pages, Consumer<IommuEvent> out) {
    long cachedSizes = 1L << (LinuxIovaAllocator.IOVA_RANGE_CACHE_MAX_SIZE - 1);
    long length = pages < cachedSizes ? roundUp(pages) : pages;
    long pfn = IovaAllocator.FAILED;
    if (!(sacFailed && KERNEL.stickyPciSacFallback())) {
      pfn = allocAttempt(cpu, length, DMA32_LIMIT_PFN, false, out);
      sacFailed |= pfn == IovaAllocator.FAILED;
    }
    if (pfn == IovaAllocator.FAILED) pfn = allocAttempt(cpu, length, FULL_LIMIT_PFN, true, out);
    if (pfn == IovaAllocator.FAILED) throw new IllegalStateException("IOVA space exhausted");
    return pfn;
  }

  private long allocAttempt(
      int cpu, long pages, long limitPfn, boolean flushRcache, Consumer<IommuEvent> out) {
    long hitsBefore = iova.stats().cacheHits();
    long pfn = iova.allocIovaFast(pages, limitPfn, flushRcache, cpu, nowNs);
    boolean failed = pfn == IovaAllocator.FAILED;
    Boolean fromCache = failed ? null : iova.stats().cacheHits() > hitsBefore;
    out.accept(
        event(
            cpu,
            EventType.IOVA_ALLOC,
            "alloc_iova_fast_ret",
            Attribution.CPU_CONTEXT,
            new IovaAllocation(
                IovaPath.FAST,
                pages,
                limitPfn,
                failed ? null : pfn,
                fromCache,
                true,
                flushRcache)));
    return pfn;
  }

  /** {@code free_iova_fast()} of {@code pages} (the unrounded length, as dma-iommu passes it). */
  protected void freeIova(int cpu, long pfn, long pages, Consumer<IommuEvent> out) {
    iova.free(pfn, pages, cpu, nowNs);
    out.accept(
        event(
            cpu,
            EventType.IOVA_FREE,
            "free_iova_fast",
            Attribution.TRACE,
            new IovaFree(IovaPath.FAST, pfn, pages)));
  }

  /** One {@code map} line: {@code iommu_map()} of physically contiguous pages. */
  protected void map(
      int cpu, long iovaAddress, long size, long paddr, int prot, Consumer<IommuEvent> out) {
    out.accept(
        event(
            cpu,
            EventType.MAP,
            "map",
            Attribution.CPU_CONTEXT,
            new Mapping(iovaAddress, size, paddr, prot, null)));
  }

  /** A page-aligned physical address below 64 GiB for {@code pages} contiguous pages. */
  protected long physical(long pages) {
    return (random.nextLong(1L << 24) & -pages) << PAGE_SHIFT;
  }

  protected IommuEvent event(
      int cpu, EventType eventType, String source, Attribution attribution, Object payload) {
    nowNs += EVENT_NS;
    return new IommuEvent(
        HOST, ++seq, nowNs, cpu, eventType, source, domain, device, attribution, payload);
  }

  private static long roundUp(long pages) {
    return pages <= 1 ? 1 : Long.highestOneBit(pages - 1) << 1;
  }
}
