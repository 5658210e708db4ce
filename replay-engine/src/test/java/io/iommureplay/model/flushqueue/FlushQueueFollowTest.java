package io.iommureplay.model.flushqueue;

import static io.iommureplay.model.flushqueue.FlushQueue.NO_OWN_TIMER;
import static io.iommureplay.model.flushqueue.FlushQueue.NO_TABLE_PAGES;
import static io.iommureplay.model.flushqueue.FlushReason.FULL;
import static io.iommureplay.model.flushqueue.FlushReason.TIMER;
import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.model.flushqueue.Divergence.Kind;
import io.iommureplay.model.flushqueue.FlushQueue.Stat;
import io.iommureplay.model.flushqueue.FlushQueueParams.Layout;
import org.junit.jupiter.api.Test;

/**
 * A queue following the kernel's flushes as a trace reports them: applied as dma-iommu.c does,
 * compared with what the model predicts. Rings of 4 slots (3 entries) keep the sequences short.
 */
class FlushQueueFollowTest {
  private static final long MS = 1_000_000;
  private static final FlushQueueParams SMALL = new FlushQueueParams(Layout.PER_CPU, 4, 10 * MS);

  private final Recorder rec = new Recorder();

  @Test
  void aFullRingFlushTheModelPredictedIsConfirmedByTheKernels() {
    FlushQueue q = FlushQueue.following(SMALL, 2, NO_OWN_TIMER, rec);
    for (int i = 0; i < 3; i++) q.enqueue(i, i, 0, 0x10 + i, 1, NO_TABLE_PAGES);
    // The ring is full (fq_full()): the model must flush to queue the 4th entry, and expects the
    // kernel did.
    q.enqueue(3, 3, 0, 0x13, 1, 9);
    assertThat(rec.take())
        .containsExactly("flush FULL", "iova 0x10+1", "iova 0x11+1", "iova 0x12+1");

    // The trace: fq_flush_iotlb() and the domain-selective invalidation, on CPU 0.
    q.flushStarted(4, 4, 0, FULL);
    q.flushFinished(5, 5, 0, FULL);
    assertThat(rec.take()).isEmpty();
    assertThat(q.occupancy(0)).isEqualTo(1);
    assertThat(q.count(Stat.FULL_FLUSHES)).isEqualTo(1);
    assertThat(q.count(Stat.OBSERVED_FULL_FLUSHES)).isEqualTo(1);
    assertThat(
            q.count(Stat.UNMATCHED_OBSERVED_FLUSHES) + q.count(Stat.UNCONFIRMED_PREDICTED_FLUSHES))
        .isZero();
    assertThat(q.divergences()).isEmpty();
  }

  @Test
  void theTimerWaitsForTheKernelsWhichFindsItArmed() {
    FlushQueue q = FlushQueue.following(SMALL, 2, NO_OWN_TIMER, rec);
    q.enqueue(1, 0, 0, 0x10, 1, NO_TABLE_PAGES);
    q.advanceTo(1000 * MS);
    assertThat(rec.take()).isEmpty();
    assertThat(q.timerArmedAtNs()).isZero();

    // The kernel's fq_flush_timeout() ran 16 ms after arming, as under emulation.
    q.flushStarted(2, 16 * MS, 1, TIMER);
    assertThat(q.timerArmedAtNs()).isEqualTo(FlushQueue.NOT_ARMED);
    q.flushFinished(3, 16 * MS, 1, TIMER);
    assertThat(rec.take()).containsExactly("iova 0x10+1");
    assertThat(q.count(Stat.TIMER_FLUSHES)).isEqualTo(1);
    assertThat(q.count(Stat.OBSERVED_TIMER_FLUSHES)).isEqualTo(1);
    assertThat(q.divergences()).isEmpty();
  }

  @Test
  void anEntryQueuedAfterAFlushStartedIsNotReleasedByIt() {
    FlushQueue q = FlushQueue.following(SMALL, 2, NO_OWN_TIMER, rec);
    q.enqueue(1, 0, 0, 0xa, 1, NO_TABLE_PAGES);
    q.enqueue(2, 1 * MS, 1, 0xb, 1, NO_TABLE_PAGES);
    // CPU 0: fq_flush_timeout() clears fq_timer_on, fq_flush_iotlb() counts fq_flush_start_cnt = 1.
    q.flushStarted(3, 16 * MS, 0, TIMER);
    // CPU 1 queues meanwhile: queue_iova() stamps the entry 1 and re-arms the timer.
    q.enqueue(4, 16 * MS + 10_000, 1, 0xc, 1, NO_TABLE_PAGES);
    assertThat(q.timerArmedAtNs()).isEqualTo(16 * MS + 10_000);
    // fq_flush_finish_cnt = 1: fq_ring_free() releases what is stamped below 1, on every CPU.
    q.flushFinished(5, 16 * MS + 20_000, 0, TIMER);
    assertThat(rec.take()).containsExactly("iova 0xa+1", "iova 0xb+1");
    assertThat(q.occupancy(1)).isEqualTo(1);

    q.flushStarted(6, 32 * MS, 1, TIMER);
    q.flushFinished(7, 32 * MS, 1, TIMER);
    assertThat(rec.take()).containsExactly("iova 0xc+1");
    assertThat(q.divergences()).isEmpty();
  }

  @Test
  void aFullRingFlushTheModelDidNotExpectIsAppliedBeforeTheEntryItWasQueueing() {
    FlushQueue q = FlushQueue.following(SMALL, 1, NO_OWN_TIMER, rec);
    // The trace lost one unmap: the kernel's ring holds one entry more than the model's.
    q.enqueue(1, 1, 0, 0x11, 1, NO_TABLE_PAGES);
    q.enqueue(2, 2, 0, 0x12, 1, NO_TABLE_PAGES);
    q.enqueue(3, 3, 0, 0x13, 1, NO_TABLE_PAGES);
    q.flushStarted(4, 4, 0, FULL);
    q.flushFinished(5, 5, 0, FULL);
    // queue_iova() flushed, reaped, then appended 0x13 stamped after the flush: it stays.
    assertThat(rec.take()).containsExactly("iova 0x11+1", "iova 0x12+1");
    assertThat(q.occupancy(0)).isEqualTo(1);
    assertThat(q.count(Stat.UNMATCHED_OBSERVED_FLUSHES)).isEqualTo(1);
    assertThat(q.divergences())
        .containsExactly(new Divergence(Kind.UNPREDICTED_FULL_FLUSH, 4, 4, 0, 2));
    assertThat(q.divergences().get(0))
        .hasToString(
            "kernel flushed a full ring at event 4 (cpu 0); the model's ring held 2 entries");
  }

  @Test
  void aFullRingTheKernelDidNotFlushIsReportedAtTheNextEnqueue() {
    FlushQueue q = FlushQueue.following(SMALL, 1, NO_OWN_TIMER, rec);
    for (int i = 0; i < 4; i++) q.enqueue(10 + i, i, 0, 0x10 + i, 1, NO_TABLE_PAGES);
    q.enqueue(20, 20, 0, 0x20, 1, NO_TABLE_PAGES);
    assertThat(q.count(Stat.FULL_FLUSHES)).isEqualTo(1);
    assertThat(q.count(Stat.UNCONFIRMED_PREDICTED_FLUSHES)).isEqualTo(1);
    assertThat(q.divergences())
        .singleElement()
        .hasToString(
            "model expected a full-ring flush at event 13 (cpu 0, 3 entries queued); the kernel did not flush");
  }

  @Test
  void aKernelTimerFlushWithNoModelTimerArmedIsUnpredicted() {
    FlushQueue q = FlushQueue.following(SMALL, 1, NO_OWN_TIMER, rec);
    q.flushFinished(7, 5 * MS, 0, TIMER); // its start was not reported: counts as both
    assertThat(q.count(Stat.OBSERVED_TIMER_FLUSHES)).isEqualTo(1);
    assertThat(q.count(Stat.TIMER_FLUSHES)).isZero();
    assertThat(q.divergences())
        .containsExactly(new Divergence(Kind.UNPREDICTED_TIMER_FLUSH, 7, 5 * MS, 0, 0));
  }

  @Test
  void anOwnTimerFiresAfterItsGraceWhenTheKernelsIsNotSeen() {
    FlushQueue q = FlushQueue.following(SMALL, 1, 6 * MS, rec);
    q.enqueue(1, 0, 0, 0x10, 1, NO_TABLE_PAGES);
    q.advanceTo(16 * MS - 1);
    assertThat(rec.take()).isEmpty();
    q.advanceTo(16 * MS);
    assertThat(rec.take()).containsExactly("flush TIMER", "iova 0x10+1");
    q.flushStarted(2, 17 * MS, 0, TIMER);
    q.flushFinished(3, 17 * MS, 0, TIMER);
    assertThat(q.divergences())
        .extracting(Divergence::kind)
        .containsExactly(Kind.TIMER_FLUSH_NOT_OBSERVED, Kind.UNPREDICTED_TIMER_FLUSH);
    assertThat(q.divergences().get(0).timeNs()).isEqualTo(16 * MS);
  }

  @Test
  void aFullRingFlushInAnInterruptNestsInATimerFlushOnTheSameCpu() {
    FlushQueue q = FlushQueue.following(SMALL, 1, NO_OWN_TIMER, rec);
    q.enqueue(1, 0, 0, 0xa, 1, NO_TABLE_PAGES);
    q.enqueue(2, 1, 0, 0xb, 1, NO_TABLE_PAGES);
    q.flushStarted(3, 16 * MS, 0, TIMER); // softirq: start count 1
    // A hard interrupt on the same CPU unmaps twice; the second finds the ring full.
    q.enqueue(4, 16 * MS + 1, 0, 0xc, 1, NO_TABLE_PAGES); // stamped 1
    q.enqueue(
        5, 16 * MS + 2, 0, 0xd, 1, NO_TABLE_PAGES); // full: start 2, finish 1 → releases 0xa, 0xb
    q.flushStarted(6, 16 * MS + 3, 0, FULL);
    q.flushFinished(7, 16 * MS + 4, 0, FULL);
    assertThat(rec.take()).containsExactly("flush FULL", "iova 0xa+1", "iova 0xb+1");
    // Back in the softirq: finish 2 releases 0xc (stamped 1), not 0xd (stamped 2).
    q.flushFinished(8, 16 * MS + 5, 0, TIMER);
    assertThat(rec.take()).containsExactly("iova 0xc+1");
    assertThat(q.divergences()).isEmpty();
  }
}
