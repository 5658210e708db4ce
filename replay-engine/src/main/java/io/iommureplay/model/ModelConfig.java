package io.iommureplay.model;

import io.iommureplay.model.flushqueue.FlushQueueParams;
import io.iommureplay.model.iotlb.IotlbConfig;
import io.iommureplay.model.iova.KernelProfile;
import io.iommureplay.model.pagetable.PageTableFormat;

/**
 * How the model is set up where the trace does not say.
 *
 * @param pageTableFormat page-table format of domains whose DOMAIN_ALLOC does not name one; the
 *     default is a VT-d second-stage table with 4 levels (48-bit) and 2 MiB and 1 GiB superpages
 * @param mode strict, lazy, or decided per domain from the trace
 * @param iotlb which translations may stay cached after an unmap (conservative: all), and the
 *     IOTLB's capacity
 * @param flushQueue ring size and timeout of lazy domains' flush queues (default: per-CPU rings of
 *     256 and 10 ms)
 * @param cpus possible CPUs of the host (CPU numbers in events must be below it)
 * @param allocatorProfile which kernel's IOVA allocator the replay models (magazine size, depot)
 */
public record ModelConfig(
    PageTableFormat pageTableFormat,
    InvalidationMode mode,
    IotlbConfig iotlb,
    FlushQueueParams flushQueue,
    int cpus,
    KernelProfile allocatorProfile) {
  /** Possible CPUs when the trace does not say: the rings a flush-queue timer reaps. */
  public static final int DEFAULT_CPUS = 64;

  public static ModelConfig defaults() {
    return new ModelConfig(
        PageTableFormat.vtdSecondStage(4, 2),
        InvalidationMode.AUTO,
        IotlbConfig.DEFAULT,
        FlushQueueParams.PER_CPU,
        DEFAULT_CPUS,
        KernelProfile.LINUX_6_7);
  }

  public ModelConfig withPageTableFormat(PageTableFormat format) {
    return new ModelConfig(format, mode, iotlb, flushQueue, cpus, allocatorProfile);
  }

  public ModelConfig withMode(InvalidationMode newMode) {
    return new ModelConfig(pageTableFormat, newMode, iotlb, flushQueue, cpus, allocatorProfile);
  }

  public ModelConfig withIotlb(IotlbConfig newIotlb) {
    return new ModelConfig(pageTableFormat, mode, newIotlb, flushQueue, cpus, allocatorProfile);
  }

  public ModelConfig withAllocatorProfile(KernelProfile profile) {
    return new ModelConfig(pageTableFormat, mode, iotlb, flushQueue, cpus, profile);
  }

  public ModelConfig withFlushQueue(FlushQueueParams params, int possibleCpus) {
    return new ModelConfig(pageTableFormat, mode, iotlb, params, possibleCpus, allocatorProfile);
  }
}
