package io.iommureplay.model.flushqueue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.model.flushqueue.FlushQueue.Stat;
import io.iommureplay.model.flushqueue.FlushQueueParams.Layout;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** A queue restored from a snapshot taken mid-stream goes on exactly as the original. */
class FlushQueueSnapshotTest {
  private static final long MS = 1_000_000;
  private static final FlushQueueParams SMALL = new FlushQueueParams(Layout.PER_CPU, 8, 10 * MS);

  @Test
  void aPredictingQueueRestoredMidStreamBehavesAsTheOriginal() {
    roundTrip(r -> FlushQueue.predicting(SMALL, 3, r), false);
    roundTrip(
        r -> FlushQueue.predicting(new FlushQueueParams(Layout.SINGLE, 16, 10 * MS), 3, r), false);
  }

  @Test
  void aFollowingQueueRestoredMidStreamBehavesAsTheOriginal() {
    roundTrip(r -> FlushQueue.following(SMALL, 3, FlushQueue.NO_OWN_TIMER, r), true);
    roundTrip(r -> FlushQueue.following(SMALL, 3, 4 * MS, r), true);
  }

  @Test
  void aBadSnapshotIsRefused() {
    FlushQueue q = FlushQueue.predicting(SMALL, 2, new Recorder());
    q.enqueue(1, 0, 1, 0x10, 1, 5);
    byte[] bytes = save(q);
    assertThatThrownBy(
            () -> FlushQueue.restore(new SnapshotInput(bytes, 0, bytes.length - 1), new Recorder()))
        .isInstanceOf(SnapshotFormatException.class);
    byte[] otherVersion = bytes.clone();
    otherVersion[0] = 2;
    assertThatThrownBy(() -> FlushQueue.restore(new SnapshotInput(otherVersion), new Recorder()))
        .isInstanceOf(SnapshotFormatException.class)
        .hasMessageContaining("version 2");
  }

  private static void roundTrip(Function<Recorder, FlushQueue> create, boolean follow) {
    long[][] ops = randomOps(4000, follow);
    Recorder originalCalls = new Recorder();
    FlushQueue original = create.apply(originalCalls);
    for (int i = 0; i < ops.length / 2; i++) apply(original, ops[i]);

    byte[] snapshot = save(original);
    Recorder restoredCalls = new Recorder();
    SnapshotInput in = new SnapshotInput(snapshot);
    FlushQueue restored = FlushQueue.restore(in, restoredCalls);
    assertThat(in.atEnd()).isTrue();
    assertThat(save(restored)).isEqualTo(snapshot);

    originalCalls.take();
    for (int i = ops.length / 2; i < ops.length; i++) {
      apply(original, ops[i]);
      apply(restored, ops[i]);
    }
    assertThat(restoredCalls.calls).isNotEmpty().isEqualTo(originalCalls.calls);
    for (Stat stat : Stat.values())
      assertThat(restored.count(stat)).as(stat.name()).isEqualTo(original.count(stat));
    assertThat(restored.divergences()).isEqualTo(original.divergences());
    assertThat(save(restored)).isEqualTo(save(original));
    if (follow) assertThat(original.count(Stat.UNMATCHED_OBSERVED_FLUSHES)).isPositive();
    else assertThat(original.count(Stat.FULL_FLUSHES)).isPositive();
  }

  /**
   * {kind, event, time, cpu, pfn or reason}: mostly enqueues, some observed flush starts and
   * finishes.
   */
  private static long[][] randomOps(int n, boolean follow) {
    SplittableRandom random = new SplittableRandom(42);
    long[][] ops = new long[n][];
    long now = 0;
    for (int i = 0; i < n; i++) {
      now += random.nextLong(MS / 2);
      int dice = follow ? random.nextInt(10) : 0;
      int kind = dice < 7 ? 0 : dice < 9 ? 1 : 2;
      ops[i] =
          new long[] {
            kind, i, now, random.nextInt(3), kind == 0 ? random.nextInt(1 << 20) : random.nextInt(2)
          };
    }
    return ops;
  }

  private static void apply(FlushQueue q, long[] op) {
    int cpu = (int) op[3];
    switch ((int) op[0]) {
      case 0 ->
          q.enqueue(
              op[1],
              op[2],
              cpu,
              op[4],
              1 + op[4] % 4,
              op[4] % 3 == 0 ? FlushQueue.NO_TABLE_PAGES : op[4]);
      case 1 -> q.flushStarted(op[1], op[2], cpu, FlushReason.values()[(int) op[4]]);
      default -> q.flushFinished(op[1], op[2], cpu, FlushReason.values()[(int) op[4]]);
    }
  }

  private static byte[] save(FlushQueue q) {
    SnapshotOutput out = new SnapshotOutput();
    q.save(out);
    return out.toByteArray();
  }
}
