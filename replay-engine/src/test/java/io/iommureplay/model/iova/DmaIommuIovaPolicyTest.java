package io.iommureplay.model.iova;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** dma-iommu.c iommu_dma_alloc_iova(). */
class DmaIommuIovaPolicyTest {
  private static final long LIMIT64 =
      (1L << 52) - 1; // a 64-bit mask in 4 KiB pfns, clipped to the aperture

  /** A domain whose 32-bit space has two free pages: 0xffffe and 0xfffff. */
  private static LinuxIovaAllocator domain(KernelProfile profile) {
    LinuxIovaAllocator a = new LinuxIovaAllocator(profile, 1, 12, 1);
    a.reserve(1, 0xffffd);
    return a;
  }

  @Test
  void sinceV64APciDeviceGivesUp32BitIovasAfterTheFirstFailure() {
    LinuxIovaAllocator a = domain(KernelProfile.LINUX_6_7);
    DmaIommuIovaPolicy device = new DmaIommuIovaPolicy(a, KernelProfile.LINUX_6_7, 12, true, false);

    assertThat(device.allocIova(1, LIMIT64, 0, 0)).isEqualTo(0xfffff);
    assertThat(device.allocIova(1, LIMIT64, 0, 0)).isEqualTo(0xffffe);
    assertThat(device.allocIova(1, LIMIT64, 0, 0))
        .isEqualTo(LIMIT64); // 32-bit full: the whole mask
    assertThat(device.tries32BitFirst()).isFalse();
    a.freeIova(0xfffff, 0); // straight to the rbtree (a cached pfn would serve any limit)
    assertThat(device.allocIova(1, LIMIT64, 0, 0)).isEqualTo(LIMIT64 - 1); // no 32-bit try any more
  }

  @Test
  void beforeV64EveryAllocationTries32BitsFirst() {
    LinuxIovaAllocator a = domain(KernelProfile.LINUX_6_1);
    DmaIommuIovaPolicy device = new DmaIommuIovaPolicy(a, KernelProfile.LINUX_6_1, 12, true, false);
    device.allocIova(1, LIMIT64, 0, 0);
    device.allocIova(1, LIMIT64, 0, 0);
    assertThat(device.allocIova(1, LIMIT64, 0, 0)).isEqualTo(LIMIT64);
    a.freeIova(0xfffff, 0);

    assertThat(device.tries32BitFirst()).isTrue();
    assertThat(device.allocIova(1, LIMIT64, 0, 0)).isEqualTo(0xfffff);
  }

  @Test
  void forcedacAndNonPciDevicesAndNarrowMasksGoStraightToTheirLimit() {
    LinuxIovaAllocator a = domain(KernelProfile.LINUX_6_7);
    assertThat(
            new DmaIommuIovaPolicy(a, KernelProfile.LINUX_6_7, 12, true, true)
                .allocIova(1, LIMIT64, 0, 0))
        .isEqualTo(LIMIT64);
    assertThat(
            new DmaIommuIovaPolicy(a, KernelProfile.LINUX_6_7, 12, false, false)
                .allocIova(1, LIMIT64, 0, 0))
        .isEqualTo(LIMIT64 - 1);
    DmaIommuIovaPolicy narrow = new DmaIommuIovaPolicy(a, KernelProfile.LINUX_6_7, 12, true, false);
    assertThat(narrow.allocIova(1, 0xfffff, 0, 0)).isEqualTo(0xfffff);
    assertThat(narrow.allocIova(4, 0xfffff, 0, 0)).isEqualTo(IovaAllocator.FAILED);
    assertThat(narrow.tries32BitFirst()).isTrue(); // a 32-bit mask is no fallback
  }
}
