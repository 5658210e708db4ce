package io.iommureplay.model;

import static io.iommureplay.model.SnapshotScenario.CONFIG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.iommureplay.model.flushqueue.FlushQueue;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.schema.DomainType;
import io.iommureplay.schema.IommuEvent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Snapshots of the whole model: a model restored at any point of {@link SnapshotScenario} goes on
 * as the original, the committed snapshots of earlier format versions still restore, and bad
 * snapshots are refused.
 */
class ModelSnapshotTest {
  /** The snapshot of {@link SnapshotScenario} made by format version 1. Never regenerate it. */
  private static final String V1_FIXTURE = "/snapshots/model-v1.bin";

  @Test
  void aModelRestoredAfterAnyEventGoesOnAsTheOriginal() {
    List<IommuEvent> events = SnapshotScenario.events();
    CallLog originalCalls = new CallLog();
    IommuModel original = new IommuModel(CONFIG, originalCalls);
    List<byte[]> snapshots = new ArrayList<>();
    List<List<String>> callsOf = new ArrayList<>(); // per event, then finish()
    for (IommuEvent event : events) {
      snapshots.add(original.snapshot());
      original.apply(event);
      callsOf.add(List.copyOf(originalCalls.calls));
      originalCalls.calls.clear();
    }
    byte[] end = original.snapshot();
    original.finish();
    callsOf.add(List.copyOf(originalCalls.calls));

    for (int cut = 0; cut < events.size(); cut++) {
      CallLog restoredCalls = new CallLog();
      IommuModel restored = IommuModel.restore(snapshots.get(cut), CONFIG, restoredCalls);
      assertThat(restored.snapshot()).as("saved again at %d", cut).isEqualTo(snapshots.get(cut));
      for (int i = cut; i < events.size(); i++) {
        restored.apply(events.get(i));
        assertThat(restoredCalls.calls)
            .as("calls of event %d, restored after event %d", i, cut)
            .isEqualTo(callsOf.get(i));
        restoredCalls.calls.clear();
      }
      assertThat(restored.snapshot()).as("end, restored after event %d", cut).isEqualTo(end);
      restored.finish();
      assertThat(restoredCalls.calls).isEqualTo(callsOf.get(events.size()));
    }
  }

  /**
   * The fails-first test of a format change: bytes written by version 1 must restore, with the
   * current code, to the model the scenario gives now. A change of what any part saves needs a new
   * version, a reader for version 1, and a model-v2.bin beside this one (see {@link
   * #writesTheFixtureOfTheCurrentVersionWhenAsked}). It also fails if the model's behaviour changes
   * what the scenario leaves behind: then version 1 restores fine, and the fresh replay differs.
   */
  @Test
  void theVersion1FixtureRestoresToTheScenariosModel() throws IOException {
    byte[] fixture;
    try (InputStream in = ModelSnapshotTest.class.getResourceAsStream(V1_FIXTURE)) {
      assertThat(in).as(V1_FIXTURE).isNotNull();
      fixture = in.readAllBytes();
    }
    CallLog restoredCalls = new CallLog();
    IommuModel restored = IommuModel.restore(fixture, CONFIG, restoredCalls);
    CallLog freshCalls = new CallLog();
    IommuModel fresh = SnapshotScenario.replay(freshCalls);

    assertThat(restored.snapshot()).isEqualTo(fresh.snapshot());
    assertThat(facts(restored)).isEqualTo(facts(fresh));
    Domain lazy = restored.domain(SnapshotScenario.LAZY);
    assertThat(lazy.type()).isEqualTo(DomainType.DMA_FQ);
    assertThat(lazy.devices()).containsExactly(SnapshotScenario.NIC, SnapshotScenario.GPU);
    assertThat(lazy.flushQueue().occupancy(0) + lazy.flushQueue().occupancy(1)).isPositive();
    assertThat(restored.domain(SnapshotScenario.STRICT).type()).isEqualTo(DomainType.DMA);
    assertThat(restored.domain(SnapshotScenario.EMPTIED).devices()).isEmpty();
    assertThat(openWindows(restored, SnapshotScenario.LAZY)).isPositive();
    assertThat(openWindows(restored, SnapshotScenario.STRICT)).isPositive();
    assertThat(lazy.iova().allocations()).isPositive();
    assertThat(lazy.iova().agreed()).isPositive().isLessThan(lazy.iova().allocations());

    freshCalls.calls.clear();
    fresh.finish();
    restored.finish();
    assertThat(restoredCalls.calls).as("orphans given up").isNotEmpty();
    assertThat(restoredCalls.calls).isEqualTo(freshCalls.calls);
  }

  /**
   * With {@code -Diommureplay.snapshot.writeFixture=true}, writes the scenario's snapshot as the
   * fixture of the current format version; an existing fixture is never overwritten.
   */
  @Test
  void writesTheFixtureOfTheCurrentVersionWhenAsked() throws IOException {
    assumeTrue(Boolean.getBoolean("iommureplay.snapshot.writeFixture"));
    Path fixture =
        Path.of(System.getProperty("iommureplay.project.dir"))
            .resolve("replay-engine/src/test/resources/snapshots")
            .resolve("model-v" + ModelSnapshot.VERSION + ".bin");
    assertThat(fixture).as("fixtures are never regenerated").doesNotExist();
    Files.createDirectories(fixture.getParent());
    Files.write(fixture, SnapshotScenario.replay(ModelListener.NONE).snapshot());
  }

  @Test
  void badSnapshotsAreRefusedSayingWhatIsWrong() {
    byte[] good = SnapshotScenario.replay(ModelListener.NONE).snapshot();
    assertRefused(Arrays.copyOf(good, good.length - 1), "truncated");
    assertRefused(Arrays.copyOf(good, 5), "truncated");
    assertRefused(Arrays.copyOf(good, good.length + 3), "bytes appended");
    byte[] corrupt = good.clone();
    corrupt[good.length / 2] ^= 0x10;
    assertRefused(corrupt, "corrupt");
    byte[] otherMagic = good.clone();
    otherMagic[0] = 'X';
    assertRefused(otherMagic, "not an IOMMU model snapshot");
    byte[] future = good.clone();
    future[8] = (byte) (ModelSnapshot.VERSION + 1); // the varint after the 8-byte magic
    assertRefused(future, "format version " + (ModelSnapshot.VERSION + 1));
    assertThatThrownBy(
            () ->
                IommuModel.restore(
                    good,
                    CONFIG.withPageTableFormat(PageTableFormat.vtdSecondStage(4, 2)),
                    ModelListener.NONE))
        .isInstanceOf(SnapshotFormatException.class)
        .hasMessageContaining("3 levels")
        .hasMessageContaining("4 levels");
  }

  private static void assertRefused(byte[] snapshot, String problem) {
    assertThatThrownBy(() -> IommuModel.restore(snapshot, CONFIG, ModelListener.NONE))
        .isInstanceOf(SnapshotFormatException.class)
        .hasMessageContaining(problem);
  }

  /** What detectors can see of a model. */
  private static List<String> facts(IommuModel model) {
    List<String> facts = new ArrayList<>();
    for (Domain d : model.domains()) {
      facts.add(
          "domain %d %s %s mapped %d, tables %d, open windows %d"
              .formatted(
                  d.id(),
                  d.type(),
                  d.devices(),
                  d.pageTable().liveMappedBytes(),
                  d.pageTable().liveTablePages(),
                  openWindows(model, d.id())));
      FlushQueue q = d.flushQueue();
      if (q != null) {
        for (FlushQueue.Stat stat : FlushQueue.Stat.values()) facts.add(stat + " " + q.count(stat));
        facts.add("occupancy " + q.occupancy(0) + "/" + q.occupancy(1) + " " + q.divergences());
      }
      if (d.iova() != null) {
        facts.add(
            "iova %d/%d %s, cache hits %d, lock %d"
                .formatted(
                    d.iova().agreed(),
                    d.iova().allocations(),
                    d.iova().adoptions(),
                    d.iova().allocator().stats().cacheHits(),
                    d.iova().allocator().stats().globalLockAcquisitions()));
      }
    }
    return facts;
  }

  private static long openWindows(IommuModel model, long domain) {
    long[] open = {0};
    model.forEachOpenWindow(domain, w -> open[0]++);
    return open[0];
  }
}
