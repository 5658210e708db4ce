package io.iommureplay.bench.workload;

/** The workloads of the model benchmarks. */
public enum WorkloadKind {
  /** {@link NicLazyWorkload}: 4 KiB packet buffers, lazy (DMA_FQ) domain, 2 CPUs. */
  NIC_LAZY,
  /** {@link NvmeStrictWorkload}: 64–512 KiB scatter-gather requests, strict (DMA) domain. */
  NVME_STRICT;

  /** The workload in its steady state: buffers are unmapped as new ones are mapped. */
  public Workload create(long seed) {
    return switch (this) {
      case NIC_LAZY -> new NicLazyWorkload(seed, NicLazyWorkload.IN_FLIGHT_PER_CPU);
      case NVME_STRICT -> new NvmeStrictWorkload(seed, NvmeStrictWorkload.IN_FLIGHT_PER_CPU);
    };
  }

  /** The same traffic with nothing ever unmapped: what stays mapped grows without bound. */
  public Workload createMapOnly(long seed) {
    return switch (this) {
      case NIC_LAZY -> new NicLazyWorkload(seed, Integer.MAX_VALUE);
      case NVME_STRICT -> new NvmeStrictWorkload(seed, Integer.MAX_VALUE);
    };
  }
}
