package io.iommureplay.model.flushqueue;

import static io.iommureplay.model.flushqueue.FlushQueue.NO_TABLE_PAGES;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.model.flushqueue.FlushQueue.Stat;
import io.iommureplay.model.flushqueue.FlushQueueParams.Layout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A predicting queue on hand-worked sequences; each rule is cited from drivers/iommu/dma-iommu.c.
 */
class FlushQueueTest {
  private static final long US = 1_000;
  private static final long MS = 1_000_000;

  private final Recorder rec = new Recorder();

  @Test
  void presetsAreLinuxs() {
    // iommu_dma_init_options(): IOVA_DEFAULT_FQ_SIZE 256, IOVA_DEFAULT_FQ_TIMEOUT 10;
    // IOVA_SINGLE_FQ_SIZE 32768, IOVA_SINGLE_FQ_TIMEOUT 1000; old intel-iommu HIGH_WATER_MARK 250,
    // 10 ms.
    assertThat(FlushQueueParams.PER_CPU)
        .isEqualTo(new FlushQueueParams(Layout.PER_CPU, 256, 10 * MS));
    assertThat(FlushQueueParams.PER_CPU.capacity()).isEqualTo(255);
    assertThat(FlushQueueParams.SINGLE_QUEUE)
        .isEqualTo(new FlushQueueParams(Layout.SINGLE, 32768, 1000 * MS));
    assertThat(FlushQueueParams.SINGLE_QUEUE.capacity()).isEqualTo(32767);
    assertThat(FlushQueueParams.INTEL_LEGACY.capacity()).isEqualTo(250);
    assertThat(FlushQueueParams.INTEL_LEGACY.timeoutNs()).isEqualTo(10 * MS);
  }

  @Test
  void the256thEnqueueFlushesTheFullRingAndReleasesTablePagesThenIovaOldestFirst() {
    FlushQueue q = FlushQueue.predicting(FlushQueueParams.PER_CPU, 1, rec);
    // fq_full(): ((tail + 1) & mod_mask) == head, so 255 of the 256 slots fill without a flush.
    for (int i = 0; i < 255; i++)
      q.enqueue(i, i * US, 0, 0x1000 + i, 1, i % 2 == 0 ? 100 + i : NO_TABLE_PAGES);
    assertThat(rec.take()).isEmpty();
    assertThat(q.occupancy(0)).isEqualTo(255);

    // queue_iova(): fq_ring_free_locked() finds nothing flushed; fq_full() → fq_flush_iotlb(), then
    // fq_ring_free_locked() releases from the head: iommu_put_pages_list() before free_iova_fast().
    q.enqueue(255, 255 * US, 0, 0x2000, 4, 7);
    List<String> expected = new ArrayList<>(List.of("flush FULL"));
    for (int i = 0; i < 255; i++) {
      if (i % 2 == 0) expected.add("pages " + (100 + i));
      expected.add("iova 0x%x+1".formatted(0x1000 + i));
    }
    assertThat(rec.take()).containsExactlyElementsOf(expected);
    assertThat(q.occupancy(0)).isEqualTo(1);
    assertThat(q.maxOccupancy()).isEqualTo(255);
    assertThat(q.count(Stat.FULL_FLUSHES)).isEqualTo(1);
    assertThat(q.count(Stat.ENTRIES_QUEUED)).isEqualTo(256);
    assertThat(q.count(Stat.IOVAS_RELEASED)).isEqualTo(255);

    // The 256th entry was stamped after the flush (fq_flush_start_cnt is 1): the timer's flush
    // releases it.
    q.advanceTo(10 * MS);
    assertThat(rec.take()).containsExactly("flush TIMER", "pages 7", "iova 0x2000+4");
  }

  @Test
  void theTimerIsArmedOnceABatchAndFires10msAfterTheBatchsFirstEnqueue() {
    FlushQueue q = FlushQueue.predicting(FlushQueueParams.PER_CPU, 1, rec);
    // queue_iova(): mod_timer() only when !fq_timer_on — later enqueues do not push it back.
    q.enqueue(1, 1 * MS, 0, 0x10, 1, NO_TABLE_PAGES);
    q.enqueue(2, 4 * MS, 0, 0x11, 1, NO_TABLE_PAGES);
    q.enqueue(3, 9 * MS, 0, 0x12, 1, NO_TABLE_PAGES);
    assertThat(q.timerArmedAtNs()).isEqualTo(1 * MS);

    q.advanceTo(11 * MS - 1);
    assertThat(rec.take()).isEmpty();
    // fq_flush_timeout(): fq_timer_on = 0, fq_flush_iotlb(), fq_ring_free() of every CPU's ring.
    q.advanceTo(11 * MS);
    assertThat(rec.take())
        .containsExactly("flush TIMER", "iova 0x10+1", "iova 0x11+1", "iova 0x12+1");
    assertThat(q.timerArmedAtNs()).isEqualTo(FlushQueue.NOT_ARMED);

    // The next batch arms it again, from its own first enqueue.
    q.enqueue(4, 12 * MS, 0, 0x13, 1, NO_TABLE_PAGES);
    q.enqueue(5, 21 * MS, 0, 0x14, 1, NO_TABLE_PAGES);
    q.advanceTo(22 * MS - 1);
    assertThat(rec.take()).isEmpty();
    q.advanceTo(22 * MS);
    assertThat(rec.take()).containsExactly("flush TIMER", "iova 0x13+1", "iova 0x14+1");
    assertThat(q.count(Stat.TIMER_FLUSHES)).isEqualTo(2);
  }

  @Test
  void advanceToFiresADueTimerExactlyOnceAndBeforeTheEventAtThatTime() {
    FlushQueue q = FlushQueue.predicting(FlushQueueParams.PER_CPU, 1, rec);
    q.enqueue(1, 0, 0, 0x10, 1, NO_TABLE_PAGES);
    q.advanceTo(10 * MS);
    q.advanceTo(10 * MS);
    q.advanceTo(1000 * MS);
    assertThat(rec.take()).containsExactly("flush TIMER", "iova 0x10+1");

    // An enqueue long after the timer came due: the timer fires first, then the entry is queued
    // and arms a new timer of its own.
    q.enqueue(2, 2000 * MS, 0, 0x20, 1, NO_TABLE_PAGES);
    q.enqueue(3, 2025 * MS, 0, 0x30, 1, NO_TABLE_PAGES);
    assertThat(rec.take()).containsExactly("flush TIMER", "iova 0x20+1");
    assertThat(q.timerArmedAtNs()).isEqualTo(2025 * MS);
    assertThat(q.count(Stat.TIMER_FLUSHES)).isEqualTo(2);
  }

  @Test
  void aFullRingFlushReapsOnlyItsOwnRingOtherRingsAtTheirNextEnqueueOrTheTimer() {
    FlushQueue q = FlushQueue.predicting(FlushQueueParams.PER_CPU, 2, rec);
    q.enqueue(0, 0, 1, 0xb0, 1, NO_TABLE_PAGES);
    for (int i = 0; i < 256; i++) q.enqueue(1 + i, (1 + i) * US, 0, 0x1000 + i, 1, NO_TABLE_PAGES);
    // queue_iova() on CPU 0 flushed, then fq_ring_free_locked() of CPU 0's ring only.
    assertThat(rec.take()).hasSize(1 + 255).startsWith("flush FULL").doesNotContain("iova 0xb0+1");
    assertThat(q.occupancy(1)).isEqualTo(1);

    // CPU 1's next queue_iova() first removes "entries ... already flushed out on another CPU".
    q.enqueue(300, 300 * US, 1, 0xb1, 1, NO_TABLE_PAGES);
    assertThat(rec.take()).containsExactly("iova 0xb0+1");

    // fq_flush_timeout(): for_each_possible_cpu() fq_ring_free(), CPU 0 first.
    q.advanceTo(10 * MS);
    assertThat(rec.take()).containsExactly("flush TIMER", "iova 0x10ff+1", "iova 0xb1+1");
  }

  @Test
  void singleQueueModeSharesOneRingOf32768SlotsWithA1sTimer() {
    FlushQueue q = FlushQueue.predicting(FlushQueueParams.SINGLE_QUEUE, 2, rec);
    // iommu_dma_init_fq_single(): one ring; queue_iova() takes cookie->single_fq whatever the CPU.
    for (int i = 0; i < 32767; i++) q.enqueue(i, i * US, i % 2, i, 1, NO_TABLE_PAGES);
    assertThat(rec.take()).isEmpty();
    assertThat(q.occupancy(0)).isEqualTo(32767);
    assertThat(q.occupancy(1)).isEqualTo(32767);

    q.enqueue(32767, 32767 * US, 1, 0x10000, 1, NO_TABLE_PAGES);
    List<String> calls = rec.take();
    assertThat(calls)
        .hasSize(1 + 32767)
        .startsWith("flush FULL", "iova 0x0+1", "iova 0x1+1")
        .endsWith("iova 0x7ffe+1");

    q.advanceTo(1000 * MS - 1); // IOVA_SINGLE_FQ_TIMEOUT, from the first enqueue at 0
    assertThat(rec.take()).isEmpty();
    q.advanceTo(1000 * MS);
    assertThat(rec.take()).containsExactly("flush TIMER", "iova 0x10000+1");
  }

  @Test
  void theLegacyTableHolds250AndItsFullFlushRestartsTheTimer() {
    FlushQueue q = FlushQueue.predicting(FlushQueueParams.INTEL_LEGACY, 1, rec);
    // add_unmap(): flush_unmaps() when list_size == HIGH_WATER_MARK, before adding.
    for (int i = 0; i < 250; i++) q.enqueue(i, i * US, 0, i, 1, NO_TABLE_PAGES);
    assertThat(rec.take()).isEmpty();
    q.enqueue(250, 5 * MS, 0, 0x250, 1, NO_TABLE_PAGES);
    assertThat(rec.take()).hasSize(1 + 250).startsWith("flush FULL");
    // flush_unmaps() set timer_on = 0, so this add_unmap() armed the timer anew.
    assertThat(q.timerArmedAtNs()).isEqualTo(5 * MS);

    // dma-iommu leaves the timer of the batch alone on a full-ring flush.
    FlushQueue dma = FlushQueue.predicting(FlushQueueParams.PER_CPU, 1, new Recorder());
    for (int i = 0; i < 256; i++) dma.enqueue(i, i * US, 0, i, 1, NO_TABLE_PAGES);
    assertThat(dma.timerArmedAtNs()).isZero();
  }

  @Test
  void misuseIsRefused() {
    FlushQueue predicting = FlushQueue.predicting(FlushQueueParams.PER_CPU, 2, rec);
    assertThatThrownBy(() -> predicting.flushStarted(1, 0, 0, FlushReason.TIMER))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> predicting.enqueue(1, 0, 2, 0x10, 1, NO_TABLE_PAGES))
        .isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(
            () ->
                FlushQueue.following(
                    FlushQueueParams.INTEL_LEGACY, 1, FlushQueue.NO_OWN_TIMER, rec))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new FlushQueueParams(Layout.PER_CPU, 1, MS))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> FlushQueue.predicting(new FlushQueueParams(Layout.PER_CPU, 1 << 20, MS), 8, rec))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
