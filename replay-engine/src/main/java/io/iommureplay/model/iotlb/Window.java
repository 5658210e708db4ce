package io.iommureplay.model.iotlb;

import java.util.List;

/**
 * A use-after-unmap window: an IOVA range one unmap cleared from the page table that the IOTLB, a
 * device TLB or both may still translate. It narrows as invalidations or evictions take its pages
 * out of the caches and closes when no cache holds any ({@link IotlbListener}). Its description is
 * fixed at the unmap; {@link #openBytes()} follows what is still cached.
 */
public final class Window extends Extent {

  /** What {@link #paddr(long)} returns where the physical address is not known. */
  public static final long NO_PADDR = -1;

  private final long seq;
  private final long tsNs;
  private final int cpu;
  private final long iova;
  private final long size;

  /**
   * Physical address of iova, or NO_PADDR; physRuns (iova, paddr pairs), when not null, override
   * it.
   */
  final long paddr;

  final long[] physRuns;
  private final List<String> devices;

  /** Bytes of the window some cache still holds. */
  long openBytes;

  /** Last model operation that noted this window (see IotlbModel#note). */
  long mark;

  /**
   * A window whose own node covers its pages [first, last]; physRuns as IotlbModel#unmap documents.
   */
  Window(
      DomainCaches domain,
      long id,
      long first,
      long last,
      long seq,
      long tsNs,
      int cpu,
      long iova,
      long size,
      long paddr,
      long[] physRuns,
      List<String> devices) {
    super(domain, id, first, last, 0, null);
    this.window = this;
    this.seq = seq;
    this.tsNs = tsNs;
    this.cpu = cpu;
    this.iova = iova;
    this.size = size;
    this.paddr = paddr;
    this.physRuns = physRuns;
    this.devices = devices;
  }

  /** The domain whose translations these were. */
  public long domain() {
    return domain.id;
  }

  /** Sequence number of the unmap event. */
  public long seq() {
    return seq;
  }

  /** When the unmap happened, ns. */
  public long tsNs() {
    return tsNs;
  }

  /** CPU of the unmap. */
  public int cpu() {
    return cpu;
  }

  /** First byte unmapped. */
  public long iova() {
    return iova;
  }

  /** Bytes unmapped. */
  public long size() {
    return size;
  }

  /** Devices attached to the domain at the unmap, as the kernel names them. */
  public List<String> devices() {
    return devices;
  }

  /** Bytes of the range some cache may still translate: 0 once the window is closed. */
  public long openBytes() {
    return openBytes;
  }

  public boolean isOpen() {
    return openBytes != 0;
  }

  /**
   * The physical address {@code address} of the window pointed to before the unmap, or {@link
   * #NO_PADDR}.
   */
  public long paddr(long address) {
    if (address < iova || address - iova >= size) {
      return NO_PADDR;
    }
    long runIova = iova;
    long runPaddr = paddr;
    if (physRuns != null) {
      int lo = 0;
      int hi = physRuns.length / 2 - 1;
      while (lo < hi) { // the last run starting at or below address
        int mid = (lo + hi + 1) >>> 1;
        if (physRuns[2 * mid] <= address) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      runIova = physRuns[2 * lo];
      runPaddr = physRuns[2 * lo + 1];
    }
    return runPaddr == NO_PADDR ? NO_PADDR : runPaddr + (address - runIova);
  }

  /** A physically contiguous run of the window's range. */
  @FunctionalInterface
  public interface RunVisitor {
    void run(long iova, long paddr, long size);
  }

  /**
   * The physically contiguous runs of the range, in IOVA order ({@code paddr} {@link #NO_PADDR}
   * where not known).
   */
  public void forEachPhysRun(RunVisitor visitor) {
    if (physRuns == null) {
      visitor.run(iova, paddr, size);
      return;
    }
    for (int i = 0; i < physRuns.length; i += 2) {
      long end = i + 2 < physRuns.length ? physRuns[i + 2] : iova + size;
      visitor.run(physRuns[i], physRuns[i + 1], end - physRuns[i]);
    }
  }

  /** First byte of the first page of the range. */
  long firstPage() {
    return iova & ~IotlbModel.PAGE_MASK;
  }

  /** Last byte of the last page of the range. */
  long lastPageEnd() {
    return iova + size - 1 | IotlbModel.PAGE_MASK;
  }

  @Override
  public String toString() {
    return "Window[domain=%d, seq=%d, iova=0x%x, size=0x%x, open=0x%x]"
        .formatted(domain(), seq, iova, size, openBytes);
  }
}
