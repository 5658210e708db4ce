package io.iommureplay.model.iova;

import java.util.concurrent.TimeUnit;

/**
 * The per-CPU IOVA cache of drivers/iommu/iova.c and the dma-iommu fallback rule as a given kernel
 * has them. A version number is a hint, not proof (distribution kernels backport): check a profile
 * against a trace by replaying it.
 *
 * @param name how reports name the profile
 * @param magazineSize IOVA_MAG_SIZE, pfns per magazine
 * @param maxGlobalMags depot capacity per size class (MAX_GLOBAL_MAGS), or {@link #UNBOUNDED}. A
 *     full magazine that finds the depot full goes back to the rbtree (free_iova_magazine path of
 *     __iova_rcache_insert()). A bounded depot is the v6.1 array, freed oldest first by
 *     free_global_cached_iovas(); an unbounded one the v6.7 list, freed newest first.
 * @param depotTrimDelayNs IOVA_DEPOT_DELAY: every this long, while the depot of a size class holds
 *     more magazines than online CPUs, iova_depot_work_func() returns one to the rbtree; 0 for none
 * @param stickyPciSacFallback iommu_dma_alloc_iova() stops trying 32-bit IOVAs for a PCI device
 *     after the first failure (dev->iommu->pci_32bit_workaround, v6.4+); before, every allocation
 *     tries 32 bits first
 */
public record KernelProfile(
    String name,
    int magazineSize,
    int maxGlobalMags,
    long depotTrimDelayNs,
    boolean stickyPciSacFallback) {

  public static final int UNBOUNDED = Integer.MAX_VALUE;

  private static final long IOVA_DEPOT_DELAY_NS = TimeUnit.MILLISECONDS.toNanos(100);

  /**
   * The magazines of Linux before v6.0 (IOVA_MAG_SIZE 128, MAX_GLOBAL_MAGS 32), with this model's
   * other (v6.1) rules: enough to tell a 128-pfn kernel from a 127-pfn one on a trace.
   */
  public static final KernelProfile LINUX_5_15 = new KernelProfile("linux-5.15", 128, 32, 0, false);

  /**
   * Linux v6.0–v6.6 (v6.1 LTS): IOVA_MAG_SIZE 127 ("iommu/iova: change IOVA_MAG_SIZE to 127 to save
   * memory", v6.0), MAX_GLOBAL_MAGS 32.
   */
  public static final KernelProfile LINUX_6_1 = new KernelProfile("linux-6.1", 127, 32, 0, false);

  /**
   * Linux v6.7+: "iommu/iova: Make the rcache depot scale better" and "Manage the depot list size":
   * an unbounded depot list trimmed every 100 ms; sticky SAC fallback (v6.4).
   */
  public static final KernelProfile LINUX_6_7 =
      new KernelProfile("linux-6.7", 127, UNBOUNDED, IOVA_DEPOT_DELAY_NS, true);

  /**
   * Debian 6.1 stable (6.1.0-56-amd64, 6.1.192), which produced the captures in traces/: the v6.1
   * rules. Replaying the captures tells the magazine size apart (127-pfn magazines reproduce the
   * kernel's choices, 128-pfn ones far less) but not the depot rules: no depot there ever held more
   * than four magazines, so a cap of 32 and the v6.7 list with trimming give the same answers. See
   * LinuxIovaAllocatorRealTraceTest.
   */
  public static final KernelProfile DEBIAN_6_1_STABLE =
      new KernelProfile("debian-6.1-stable", 127, 32, 0, false);

  public KernelProfile {
    if (magazineSize < 1 || maxGlobalMags < 0 || depotTrimDelayNs < 0) {
      throw new IllegalArgumentException("bad profile " + name);
    }
  }

  /** The depot is the v6.7 linked list rather than the v6.1 fixed array. */
  boolean depotIsList() {
    return maxGlobalMags == UNBOUNDED;
  }
}
