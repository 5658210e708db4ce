package io.iommureplay.model.iova;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class FragmentationSampleTest {

  @Test
  void measuresHolesOfAHandMadeLayout() {
    LinuxIovaAllocator a = new LinuxIovaAllocator(KernelProfile.LINUX_6_1, 1, 12, 1);
    assertThat(a.allocIova(4, 0x1f, true, 0)).isEqualTo(0x1c);
    assertThat(a.allocIova(2, 0x1f, true, 0)).isEqualTo(0x1a);
    assertThat(a.allocate(1, 0x1f, 0, 0)).isEqualTo(0x19);
    a.reserve(0x8, 0xb);
    a.freeIova(0x1a, 0);
    a.free(0x19, 1, 0, 0); // parked in CPU 0's cache: still held

    // [1, 0x1f]: free 1..7, held 8..b (reserved), free c..18, cached 19, free 1a..1b, held 1c..1f.
    FragmentationSample s = a.fragmentation(0x1f);
    assertThat(s.windowPages()).isEqualTo(31);
    assertThat(s.allocatedPages()).isEqualTo(9);
    assertThat(s.reservedPages()).isEqualTo(4);
    assertThat(s.cachedPages()).isEqualTo(1);
    assertThat(s.freePages()).isEqualTo(22);
    assertThat(s.holes()).isEqualTo(3);
    assertThat(s.largestHole()).isEqualTo(13);
    assertThat(s.largestHoleBelow4G()).isEqualTo(13);
    assertThat(s.fragmentationIndex()).isCloseTo(1 - 13.0 / 22, within(1e-12));
    assertThat(s.iova32Exhausted(13)).isFalse();
    assertThat(s.iova32Exhausted(14)).isTrue();
  }

  @Test
  void anEmptySpaceIsOneHole() {
    FragmentationSample s =
        new LinuxIovaAllocator(KernelProfile.LINUX_6_7, 2, 12, 1).fragmentation(0xfffff);
    assertThat(s.holes()).isEqualTo(1);
    assertThat(s.freePages()).isEqualTo(0xfffff);
    assertThat(s.fragmentationIndex()).isZero();
  }
}
