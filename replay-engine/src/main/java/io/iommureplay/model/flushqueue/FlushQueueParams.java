package io.iommureplay.model.flushqueue;

import java.util.Objects;

/**
 * Flush-queue parameters. The presets are Linux's: drivers/iommu/dma-iommu.c {@code
 * iommu_dma_init_options()} (v6.7+; before that the per-CPU values were the only ones, as {@code
 * IOVA_FQ_SIZE} / {@code IOVA_FQ_TIMEOUT}) and intel-iommu.c before v4.14 ({@code HIGH_WATER_MARK},
 * {@code add_unmap()}). Any other size and timeout is a what-if.
 *
 * <p>The kernel arms its timer for {@code msecs_to_jiffies(timeout)} jiffies, so it fires up to a
 * tick early or late; the model fires it exactly {@code timeoutNs} after arming.
 *
 * @param layout which rings there are
 * @param ringSize slots of one ring; for the dma-iommu layouts the kernel keeps one free ({@code
 *     fq_full()}), so {@code ringSize - 1} entries fit; the legacy table holds {@code ringSize}
 *     entries
 * @param timeoutNs how long after the first enqueue of a batch the timer flushes
 */
public record FlushQueueParams(Layout layout, int ringSize, long timeoutNs) {

  /**
   * Per-CPU rings of 256 slots, 10 ms: {@code IOVA_DEFAULT_FQ_SIZE}, {@code
   * IOVA_DEFAULT_FQ_TIMEOUT}.
   */
  public static final FlushQueueParams PER_CPU =
      new FlushQueueParams(Layout.PER_CPU, 256, 10_000_000L);

  /**
   * One ring of 32768 slots, 1000 ms: {@code IOMMU_DMA_OPTS_SINGLE_QUEUE} with {@code
   * IOVA_SINGLE_FQ_SIZE}, {@code IOVA_SINGLE_FQ_TIMEOUT}, chosen for IOMMUs whose flushes are
   * shadowed ({@code dev->iommu->shadow_on_flush}, v6.7+).
   */
  public static final FlushQueueParams SINGLE_QUEUE =
      new FlushQueueParams(Layout.SINGLE, 32768, 1_000_000_000L);

  /**
   * intel-iommu before v4.14: {@code deferred_flush} of {@code HIGH_WATER_MARK} = 250 entries, 10
   * ms.
   */
  public static final FlushQueueParams INTEL_LEGACY =
      new FlushQueueParams(Layout.LEGACY_GLOBAL, 250, 10_000_000L);

  /** Which rings hold the queued entries. */
  public enum Layout {
    /** dma-iommu {@code IOMMU_DMA_OPTS_PER_CPU_QUEUE}: each CPU queues into its own ring. */
    PER_CPU,
    /** dma-iommu {@code IOMMU_DMA_OPTS_SINGLE_QUEUE}: all CPUs share one ring. */
    SINGLE,
    /**
     * intel-iommu before v4.14: one table shared by all CPUs and, in the kernel, all domains (so
     * model it with one queue for the whole host; its flushes were global IOTLB flushes). Every
     * flush, including one on a full table, cleared {@code timer_on} ({@code flush_unmaps()}), so
     * the enqueue that follows re-arms the timer.
     */
    LEGACY_GLOBAL
  }

  public FlushQueueParams {
    Objects.requireNonNull(layout, "layout");
    if (ringSize < (layout == Layout.LEGACY_GLOBAL ? 1 : 2)) {
      throw new IllegalArgumentException("ring too small: " + ringSize);
    }
    if (timeoutNs <= 0)
      throw new IllegalArgumentException("timeout must be positive: " + timeoutNs);
  }

  /** Entries a ring holds before an enqueue has to flush. */
  public int capacity() {
    return layout == Layout.LEGACY_GLOBAL ? ringSize : ringSize - 1;
  }
}
