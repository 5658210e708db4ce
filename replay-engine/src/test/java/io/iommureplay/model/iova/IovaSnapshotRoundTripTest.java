package io.iommureplay.model.iova;

import static io.iommureplay.model.iova.IovaAllocator.FAILED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Restoring a snapshot midway through a sequence changes none of the answers that follow. */
class IovaSnapshotRoundTripTest {
  private static final long MS = 1_000_000;

  static Stream<Arguments> allocators() {
    Function<SnapshotInput, IovaAllocator> linux = LinuxIovaAllocator::restore;
    return Stream.of(
        Arguments.of(
            "linux-6.1 small magazines",
            (Supplier<IovaAllocator>)
                () -> new LinuxIovaAllocator(new KernelProfile("t61", 4, 2, 0, false), 3, 12, 1),
            linux),
        Arguments.of(
            "linux-6.7 small magazines",
            (Supplier<IovaAllocator>)
                () ->
                    new LinuxIovaAllocator(
                        new KernelProfile("t67", 4, KernelProfile.UNBOUNDED, MS, true), 3, 12, 1),
            linux),
        Arguments.of(
            "linux-6.1",
            (Supplier<IovaAllocator>)
                () -> new LinuxIovaAllocator(KernelProfile.LINUX_6_1, 2, 12, 1),
            linux),
        Arguments.of(
            "bitmap",
            (Supplier<IovaAllocator>) () -> new BitmapIovaAllocator(256, 8),
            (Function<SnapshotInput, IovaAllocator>) BitmapIovaAllocator::restore),
        Arguments.of(
            "per-cpu",
            (Supplier<IovaAllocator>) () -> new PerCpuSubrangeIovaAllocator(3, 12, 1, 0x7ff, 0x200),
            (Function<SnapshotInput, IovaAllocator>) PerCpuSubrangeIovaAllocator::restore));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("allocators")
  void restoredAllocatorAnswersAsTheOriginal(
      String name,
      Supplier<IovaAllocator> factory,
      Function<SnapshotInput, IovaAllocator> restore) {
    IovaAllocator original = factory.get();
    IovaAllocator twin = factory.get();
    Workload w1 = new Workload(42);
    Workload w2 = new Workload(42);
    for (int i = 0; i < 4000; i++) {
      w1.step(original);
      w2.step(twin);
    }
    byte[] bytes = save(twin);
    IovaAllocator restored = restore.apply(new SnapshotInput(bytes));
    assertThat(save(restored)).isEqualTo(bytes);

    for (int i = 0; i < 4000; i++)
      assertThat(w2.step(restored)).as("step %d", i).isEqualTo(w1.step(original));
    assertThat(restored.stats()).usingRecursiveComparison().isEqualTo(original.stats());
    assertThat(restored.fragmentation(0xfffff)).isEqualTo(original.fragmentation(0xfffff));
    assertThat(save(restored)).isEqualTo(save(original));
    assertThat(original.stats().allocations() + original.stats().frees()).isEqualTo(8000);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("allocators")
  void aTruncatedSnapshotIsRejected(
      String name,
      Supplier<IovaAllocator> factory,
      Function<SnapshotInput, IovaAllocator> restore) {
    IovaAllocator a = factory.get();
    Workload w = new Workload(7);
    for (int i = 0; i < 300; i++) w.step(a);
    byte[] bytes = save(a);
    assertThatThrownBy(
            () -> restore.apply(new SnapshotInput(Arrays.copyOf(bytes, bytes.length / 2))))
        .isInstanceOf(SnapshotFormatException.class);
  }

  private static byte[] save(IovaAllocator a) {
    SnapshotOutput out = new SnapshotOutput();
    a.save(out);
    return out.toByteArray();
  }

  /** A deterministic mix of allocations (mostly small, some large, 32- and 64-bit) and frees. */
  private static final class Workload {
    private final Random random;
    private final List<long[]> live = new ArrayList<>(); // pfn, pages
    private long now;

    Workload(long seed) {
      random = new Random(seed);
    }

    /** One call; returns what it answered (a pfn, or 0 for a free). */
    long step(IovaAllocator a) {
      now += random.nextInt(300_000);
      int cpu = random.nextInt(2);
      if (!live.isEmpty() && random.nextInt(100) < 48) {
        long[] range = live.remove(random.nextInt(live.size()));
        a.free(range[0], range[1], cpu, now);
        return 0;
      }
      long pages =
          random.nextInt(10) == 0
              ? 33 + random.nextInt(90)
              : 1 + random.nextInt(random.nextBoolean() ? 2 : 20);
      long limit = random.nextInt(4) == 0 ? (1L << 36) - 1 : 0xfffff;
      long pfn =
          random.nextInt(5) == 0
              ? a.tryAllocate(pages, limit, cpu, now)
              : a.allocate(pages, limit, cpu, now);
      if (a instanceof LinuxIovaAllocator linux && pfn != FAILED && random.nextInt(30) == 0) {
        linux.adopt(pfn, pages, cpu, now); // undo and take the same pfn again
      }
      if (pfn != FAILED) live.add(new long[] {pfn, pages});
      return pfn;
    }
  }
}
