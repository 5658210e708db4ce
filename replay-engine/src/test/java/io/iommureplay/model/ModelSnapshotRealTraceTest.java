package io.iommureplay.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.importer.FtraceImporter;
import io.iommureplay.importer.ImportSink;
import io.iommureplay.importer.TraceInput;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.testing.SharedTraces;
import java.io.BufferedReader;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * The real captures, snapshotted part way: the restored model and the original, fed the rest of the
 * trace, make the same listener calls and end in the same state.
 */
class ModelSnapshotRealTraceTest {
  private static final ModelConfig CAPTURE =
      ModelConfig.defaults()
          .withPageTableFormat(PageTableFormat.vtdSecondStage(3, 2))
          .withFlushQueue(ModelConfig.defaults().flushQueue(), 2);

  @Test
  void aLazyModelRestoredMidTraceGoesOnAsTheOriginal() throws IOException {
    roundTrip("lazy-smp2", 300_000); // of 899,492 lines
  }

  @Test
  void aStrictModelRestoredMidTraceGoesOnAsTheOriginal() throws IOException {
    roundTrip("strict", 560_000); // of 1,119,549 lines
  }

  /**
   * Replays {@code name}, restores a snapshot taken after line {@code cutLine}, goes on with both.
   */
  private static void roundTrip(String name, long cutLine) throws IOException {
    CallLog originalCalls = new CallLog();
    originalCalls.recording = false;
    IommuModel original = new IommuModel(CAPTURE, originalCalls);
    CallLog restoredCalls = new CallLog();
    IommuModel[] restored = {null};
    long[] compared = {0};
    Runnable compare =
        () -> {
          if (!restoredCalls.calls.equals(originalCalls.calls))
            assertThat(restoredCalls.calls).isEqualTo(originalCalls.calls);
          compared[0] += originalCalls.calls.size();
          originalCalls.calls.clear();
          restoredCalls.calls.clear();
        };
    FtraceImporter importer =
        new FtraceImporter(
            name,
            new ImportSink() {
              @Override
              public void event(IommuEvent event) {
                if (restored[0] == null && event.getSeq() > cutLine) {
                  restored[0] = snapshotAndRestore(name, original, restoredCalls);
                  originalCalls.recording = true;
                }
                original.apply(event);
                if (restored[0] != null) {
                  restored[0].apply(event);
                  compare.run();
                }
              }

              @Override
              public void rejected(RejectedLine line) {}
            });
    try (BufferedReader in = TraceInput.open(SharedTraces.trace(name))) {
      importer.read(name, in);
    }
    importer.finish();
    assertThat(restored[0]).as("a snapshot was taken").isNotNull();
    byte[] end = original.snapshot();
    assertThat(restored[0].snapshot()).isEqualTo(end);
    System.out.printf("%s: snapshot at the end %,d bytes%n", name, end.length);
    original.finish();
    restored[0].finish();
    compare.run();
    System.out.printf("%s: %,d listener calls after the restore, all alike%n", name, compared[0]);
    assertThat(compared[0]).isGreaterThan(100_000);
  }

  private static IommuModel snapshotAndRestore(
      String name, IommuModel original, ModelListener listener) {
    long start = System.nanoTime();
    byte[] snapshot = original.snapshot();
    long saved = System.nanoTime();
    IommuModel restored = IommuModel.restore(snapshot, CAPTURE, listener);
    long end = System.nanoTime();
    long pages = 0;
    for (Domain d : original.domains()) pages += d.pageTable().liveMappedBytes() / 4096;
    System.out.printf(
        "%s: snapshot %,d bytes, %,d live 4 KiB pages mapped (%.1f bytes per page),"
            + " %d domains; saved in %.1f ms, restored in %.1f ms%n",
        name,
        snapshot.length,
        pages,
        (double) snapshot.length / pages,
        original.domains().size(),
        (saved - start) / 1e6,
        (end - saved) / 1e6);
    assertThat(restored.snapshot()).isEqualTo(snapshot);
    return restored;
  }
}
