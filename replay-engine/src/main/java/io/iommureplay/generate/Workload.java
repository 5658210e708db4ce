package io.iommureplay.generate;

/** What the devices of a generated host do (SPEC "Ground truth"). */
public enum Workload {
  /**
   * A multi-queue NIC: per CPU an rx ring of 2 KiB or 4 KiB buffers refilled as packets arrive and
   * a tx queue of in-flight buffers. Freed pages go back to a per-device pool and are reused for
   * the next buffers at once (page-pool recycling: last freed, first reused).
   */
  NIC,
  /**
   * An NVMe controller: per CPU a submission queue of scatter-gather requests of 64–512 KiB (now
   * and then 1–2 MiB), each one IOVA allocation mapped by several map calls (one per physically
   * contiguous segment) and unmapped by one unmap; completions out of order.
   */
  NVME,
  /**
   * A GPU: one persistent 1 GiB buffer and a churn of 2–16 MiB buffers, all physically 2 MiB
   * aligned so the IOMMU uses 2 MiB and 1 GiB pages; plus shared virtual addressing (SVA) of a few
   * processes by PASID.
   */
  GPU,
  /**
   * A device passed through to a VM (VFIO): an UNMANAGED domain whose guest RAM is mapped once with
   * iommu_map() (no IOVA allocator, no flush queue) at IOVA = guest physical address, plus 2 MiB
   * memory blocks plugged and unplugged now and then.
   */
  VFIO,
  /** All of the above on one host, each device in its own domain. */
  MIX
}
