package io.iommureplay.detect;

import static io.iommureplay.schema.FindingType.DEVICE_ACCESS_AFTER_UNMAP;
import static io.iommureplay.schema.FindingType.IOVA_REUSE_BEFORE_FLUSH;
import static io.iommureplay.schema.FindingType.PHYS_REUSE_IN_WINDOW;
import static io.iommureplay.schema.FindingType.WRITER_RACE;
import static io.iommureplay.schema.Severity.CRITICAL;
import static io.iommureplay.schema.Severity.HIGH;
import static io.iommureplay.schema.Severity.LOW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class IncidentCoalescerTest {
  private static final String NIC = "0000:00:04.0";
  private static final String NVME = "0000:00:05.0";
  private static final long MS = 1_000_000L;

  private final IncidentCoalescer coalescer =
      new IncidentCoalescer(IncidentCoalescer.Options.DEFAULTS);

  /** A detection on domain 1's NIC at {@code [iova, iova + 4 KiB)}, proven by {@code seqs}. */
  private static Detection.Builder reuse(long iova, long tsNs, long... seqs) {
    return Detection.builder(PHYS_REUSE_IN_WINDOW, LOW)
        .host("h1")
        .on(1, NIC)
        .iova(iova, iova + 4096)
        .at(tsNs)
        .evidence(seqs)
        .message("page reused at iova 0x" + Long.toHexString(iova));
  }

  @Test
  void instancesOfOneWindowAreOneIncident() {
    coalescer.add(reuse(0x3000, 100, 10, 11).phys(0x9000, 0xa000).inFlushWindow(7).build());
    coalescer.add(reuse(0x1000, 300, 12, 13).phys(0x5000, 0x6000).inFlushWindow(7).build());
    coalescer.add(reuse(0x2000, 200, 14).inFlushWindow(7).build());

    assertThat(coalescer.advanceTo(Long.MAX_VALUE))
        .as("a window ends only when it closes")
        .isEmpty();
    List<Finding> findings = coalescer.windowClosed(1, 7);

    assertThat(findings).hasSize(1);
    Finding incident = findings.get(0);
    assertThat(incident.getInstances()).isEqualTo(3);
    assertThat(incident.getIovaStart()).isEqualTo(0x1000);
    assertThat(incident.getIovaEnd()).isEqualTo(0x4000);
    assertThat(incident.getPhysStart()).isEqualTo(0x5000);
    assertThat(incident.getPhysEnd()).isEqualTo(0xa000);
    assertThat(incident.getFirstNs()).isEqualTo(100);
    assertThat(incident.getLastNs()).isEqualTo(300);
    assertThat(incident.getEvidence()).containsExactly(10L, 11L, 12L, 13L, 14L);
    assertThat(incident.getMessage())
        .isEqualTo("page reused at iova 0x3000 (first of 3 instances)");
    assertThat(incident.getDevice()).isEqualTo(NIC);
    assertThat(incident.getOtherDomain()).isNull();
    assertThat(coalescer.openIncidents()).isZero();
  }

  @Test
  void eachWindowIsItsOwnIncident() {
    coalescer.add(reuse(0x1000, 100, 1).inFlushWindow(7).build());
    coalescer.add(reuse(0x1000, 200, 2).inFlushWindow(8).build());
    coalescer.add(reuse(0x1000, 300, 3).on(2, NIC).inFlushWindow(7).build());

    assertThat(coalescer.windowClosed(1, 7))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getEvidence()).containsExactly(1L);
              assertThat(f.getMessage()).isEqualTo("page reused at iova 0x1000");
            });
    assertThat(coalescer.windowClosed(2, 7))
        .singleElement()
        .extracting(Finding::getDomain)
        .isEqualTo(2L);
    assertThat(coalescer.finish())
        .singleElement()
        .extracting(Finding::getEvidence)
        .isEqualTo(List.of(2L));
  }

  @Test
  void withoutWindowInstancesCoalesceWithinTheInterval() {
    coalescer.add(reuse(0x1000, 0, 1).build());
    coalescer.add(reuse(0x2000, 6 * MS, 2).build());
    coalescer.add(reuse(0x3000, 16 * MS, 3).build());

    assertThat(coalescer.advanceTo(26 * MS)).as("not yet past 16 ms + 10 ms").isEmpty();
    assertThat(coalescer.advanceTo(26 * MS + 1))
        .singleElement()
        .satisfies(
            f -> {
              assertThat(f.getInstances()).isEqualTo(3);
              assertThat(f.getFirstNs()).isZero();
              assertThat(f.getLastNs()).isEqualTo(16 * MS);
            });
    assertThat(coalescer.openIncidents()).isZero();
  }

  @Test
  void anInstanceAfterTheIntervalStartsTheNextIncident() {
    coalescer.add(reuse(0x1000, 0, 1).build());
    coalescer.add(reuse(0x1000, 10 * MS + 1, 2).build());

    assertThat(coalescer.openIncidents()).isOne();
    assertThat(coalescer.finish())
        .extracting(Finding::getEvidence)
        .containsExactly(List.of(1L), List.of(2L));
  }

  @Test
  void differentTypesDevicesAndSecondPartiesAreNotMerged() {
    coalescer.add(reuse(0x1000, 100, 1).inFlushWindow(7).build());
    coalescer.add(reuse(0x1000, 100, 2).on(1, NVME).inFlushWindow(7).build());
    coalescer.add(reuse(0x1000, 100, 3).otherParty(2, NVME).inFlushWindow(7).build());
    coalescer.add(reuse(0x1000, 100, 4).otherParty(3, NVME).inFlushWindow(7).build());
    coalescer.add(
        Detection.builder(IOVA_REUSE_BEFORE_FLUSH, HIGH)
            .host("h1")
            .on(1, NIC)
            .iova(0x1000, 0x2000)
            .at(100)
            .evidence(5)
            .message("iova reused")
            .inFlushWindow(7)
            .build());

    assertThat(coalescer.windowClosed(1, 7))
        .extracting(Finding::getEvidence)
        .as("canonical order: type, then device, then second party, absent first")
        .containsExactly(List.of(1L), List.of(3L), List.of(4L), List.of(2L), List.of(5L));
  }

  @Test
  void evidenceKeepsTheFirstDistinctSequenceNumbersInOrder() {
    IncidentCoalescer threeSeqs = new IncidentCoalescer(new IncidentCoalescer.Options(10 * MS, 3));
    threeSeqs.add(reuse(0x1000, 100, 20, 10).build());
    threeSeqs.add(reuse(0x1000, 200, 10, 30).build());
    threeSeqs.add(reuse(0x1000, 300, 5, 40).build());

    assertThat(threeSeqs.finish())
        .singleElement()
        .extracting(Finding::getEvidence)
        .isEqualTo(List.of(20L, 10L, 30L));
  }

  @Test
  void severityIsTheHighestAndExtentsCompareUnsigned() {
    long high = 0xffff_ffff_ffff_e000L;
    coalescer.add(reuse(high, 100, 1).phys(0x1000, 0x2000).inFlushWindow(7).build());
    coalescer.add(
        Detection.builder(PHYS_REUSE_IN_WINDOW, CRITICAL)
            .host("h1")
            .on(1, NIC)
            .iova(0x1000, 0x2000)
            .phys(0x8000_0000_0000_0000L, 0x8000_0000_0000_1000L)
            .at(50)
            .evidence(2)
            .message("second")
            .inFlushWindow(7)
            .build());
    coalescer.add(reuse(0x5000, 150, 3).inFlushWindow(7).build());

    Finding incident = coalescer.windowClosed(1, 7).get(0);
    assertThat(incident.getSeverity()).isEqualTo(CRITICAL);
    assertThat(incident.getIovaStart()).isEqualTo(0x1000);
    assertThat(incident.getIovaEnd()).isEqualTo(high + 0x1000);
    assertThat(incident.getPhysStart()).isEqualTo(0x1000);
    assertThat(incident.getPhysEnd()).isEqualTo(0x8000_0000_0000_1000L);
    assertThat(incident.getFirstNs()).isEqualTo(50);
    assertThat(incident.getLastNs()).isEqualTo(150);
    assertThat(incident.getMessage()).startsWith("page reused at iova 0xffffffffffffe000");
  }

  @Test
  void shufflingIncidentsAgainstEachOtherChangesNothing() throws IOException {
    List<List<Detection>> incidents = randomIncidents(new Random(42));

    String once = replay(interleave(incidents, new Random(1)));
    String again = replay(interleave(incidents, new Random(2)));

    assertThat(again).isEqualTo(once);
    assertThat(once.lines()).hasSize(incidents.size());
  }

  /** 200 incidents of 1 to 20 instances on two domains, half in windows 0-3, half by interval. */
  private static List<List<Detection>> randomIncidents(Random random) {
    FindingType[] types = {PHYS_REUSE_IN_WINDOW, DEVICE_ACCESS_AFTER_UNMAP, WRITER_RACE};
    List<List<Detection>> incidents = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      long domain = i % 2;
      String device = String.format("0000:00:%02x.0", i / 8);
      Long window = i % 4 < 2 ? (long) (i % 8) : null;
      long firstNs = random.nextInt(4) * MS; // ties between incidents are common
      List<Detection> instances = new ArrayList<>();
      for (int n = 1 + random.nextInt(20); n > 0; n--) {
        long iova = random.nextInt(1 << 20) * 4096L;
        Detection.Builder instance =
            Detection.builder(types[i % types.length], Severity.values()[random.nextInt(5)])
                .host("h1")
                .on(domain, device)
                .iova(iova, iova + 4096)
                .at(firstNs + random.nextInt((int) MS))
                .evidence(random.nextInt(1000), random.nextInt(1000))
                .message("instance of incident " + i);
        if (window != null) instance.inFlushWindow(window);
        instances.add(instance.build());
      }
      incidents.add(instances);
    }
    return incidents;
  }

  /** All instances, each incident's in its own order, incidents interleaved at random. */
  private static List<Detection> interleave(List<List<Detection>> incidents, Random random) {
    List<List<Detection>> queues = new ArrayList<>();
    incidents.forEach(instances -> queues.add(new ArrayList<>(instances)));
    List<Detection> all = new ArrayList<>();
    while (!queues.isEmpty()) {
      int pick = random.nextInt(queues.size());
      all.add(queues.get(pick).remove(0));
      if (queues.get(pick).isEmpty()) queues.remove(pick);
    }
    return all;
  }

  private static String replay(List<Detection> detections) throws IOException {
    IncidentCoalescer coalescer = new IncidentCoalescer(IncidentCoalescer.Options.DEFAULTS);
    detections.forEach(coalescer::add);
    StringWriter out = new StringWriter();
    try (FindingsJson.FindingWriter findings = FindingsJson.writer(out)) {
      for (long window = 0; window < 8; window++) {
        for (Finding finding : coalescer.windowClosed(window % 2, window)) findings.write(finding);
      }
      for (Finding finding : coalescer.advanceTo(3 * MS)) findings.write(finding);
      for (Finding finding : coalescer.finish()) findings.write(finding);
    }
    return out.toString();
  }

  @Test
  void aMillionInstancesKeepOneIncidentOfConstantSize() {
    for (int i = 0; i < 1_000_000; i++) {
      long tsNs = i * 1000L; // 1 s in all: the interval incident's deadline is renewed 100 times
      coalescer.add(reuse(i * 4096L, tsNs, 2L * i, 2L * i + 1).inFlushWindow(7).build());
      coalescer.add(reuse(i * 4096L, tsNs, 2L * i, 2L * i + 1).build());
      assertThat(coalescer.advanceTo(tsNs)).isEmpty();
    }
    assertThat(coalescer.openIncidents()).isEqualTo(2);

    List<Finding> findings = coalescer.finish();
    assertThat(findings)
        .hasSize(2)
        .allSatisfy(
            f -> {
              assertThat(f.getInstances()).isEqualTo(1_000_000);
              assertThat(f.getEvidence()).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L);
              assertThat(f.getIovaEnd()).isEqualTo(1_000_000 * 4096L);
            });
    assertThat(coalescer.openIncidents()).isZero();
  }

  @Test
  void oneCoalescerServesOneHost() {
    coalescer.add(reuse(0x1000, 100, 1).build());

    assertThatThrownBy(() -> coalescer.add(reuse(0x1000, 100, 2).host("h2").build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("h2");
  }
}
