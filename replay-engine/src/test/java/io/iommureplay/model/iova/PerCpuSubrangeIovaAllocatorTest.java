package io.iommureplay.model.iova;

import static io.iommureplay.model.iova.IovaAllocator.FAILED;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PerCpuSubrangeIovaAllocatorTest {
  private static final long LIMIT32 = 0xfffff;

  @Test
  void eachCpuAllocatesFromItsOwnRegionThenTheSharedOneThenTheOthers() {
    // Pfns 0..63: CPU 0 owns 0..23, CPU 1 owns 24..47, 48..63 are shared.
    PerCpuSubrangeIovaAllocator a = new PerCpuSubrangeIovaAllocator(2, 12, 0, 63, 16);

    assertThat(a.allocate(4, LIMIT32, 0, 0)).isEqualTo(20); // top-down, size-aligned in 0..23
    assertThat(a.allocate(4, LIMIT32, 1, 0)).isEqualTo(44);
    assertThat(a.allocate(16, LIMIT32, 0, 0)).isEqualTo(0);
    assertThat(a.allocate(8, LIMIT32, 0, 0)).isEqualTo(56); // CPU 0 full: shared region
    // 16 pages fit in no region although 32 pages are free: a fragmented failure.
    assertThat(a.allocate(16, LIMIT32, 0, 0)).isEqualTo(FAILED);
    a.free(56, 8, 0, 0); // into the shared region: global lock
    a.free(20, 4, 0, 0); // own region: no global lock

    AllocatorStats stats = a.stats();
    assertThat(stats.allocations()).isEqualTo(5);
    assertThat(stats.cacheHits()).isEqualTo(3); // served by the own region
    assertThat(stats.failures()).isEqualTo(1);
    assertThat(stats.fragmentedFailures()).isEqualTo(1);
    assertThat(stats.globalLockAcquisitions()).isEqualTo(4); // shared, shared + CPU 1's, the free
    assertThat(a.allocate(8, LIMIT32, 1, 0)).isEqualTo(32); // CPU 1's region, below 44
  }
}
