package io.iommureplay.model;

import io.iommureplay.model.iotlb.IotlbConfig;
import io.iommureplay.model.pagetable.PageTableFormat;

/**
 * How the model is set up where the trace does not say.
 *
 * @param pageTableFormat page-table format of domains whose DOMAIN_ALLOC does not name one; the
 *     default is a VT-d second-stage table with 4 levels (48-bit) and 2 MiB and 1 GiB superpages
 * @param mode strict, lazy, or decided per domain from the trace
 * @param iotlb which translations may stay cached after an unmap (conservative: all), and the
 *     IOTLB's capacity
 */
public record ModelConfig(
    PageTableFormat pageTableFormat, InvalidationMode mode, IotlbConfig iotlb) {
  public static ModelConfig defaults() {
    return new ModelConfig(
        PageTableFormat.vtdSecondStage(4, 2), InvalidationMode.AUTO, IotlbConfig.DEFAULT);
  }

  public ModelConfig withPageTableFormat(PageTableFormat format) {
    return new ModelConfig(format, mode, iotlb);
  }

  public ModelConfig withMode(InvalidationMode newMode) {
    return new ModelConfig(pageTableFormat, newMode, iotlb);
  }

  public ModelConfig withIotlb(IotlbConfig newIotlb) {
    return new ModelConfig(pageTableFormat, mode, newIotlb);
  }
}
