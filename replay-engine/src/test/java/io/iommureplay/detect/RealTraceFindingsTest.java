package io.iommureplay.detect;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.importer.TraceInput;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import io.iommureplay.testing.SharedTraces;
import java.io.BufferedReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The detectors on the real captures (SPEC: detection is measured "on the real traces"). */
class RealTraceFindingsTest {
  private static final ModelConfig CAPTURE =
      ModelConfig.defaults()
          .withPageTableFormat(PageTableFormat.vtdSecondStage(3, 2))
          .withFlushQueue(ModelConfig.defaults().flushQueue(), 2);

  @Test
  void theStrictCaptureHasNoUseAfterUnmapFindings() throws IOException {
    List<Finding> findings = replay("strict");

    // iommu.strict=1: every unmap is flushed before dma_unmap returns.
    assertThat(findings).isEmpty();
  }

  @Test
  void theLazyCaptureReusesPagesWhileTheyAreStillTranslatable() throws IOException {
    List<Finding> findings = replay("lazy-smp2");
    Map<String, Long> counts =
        findings.stream()
            .collect(
                Collectors.groupingBy(
                    f -> f.getType() + " " + f.getSeverity(), TreeMap::new, Collectors.counting()));
    long instances = findings.stream().mapToLong(Finding::getInstances).sum();
    System.out.printf(
        "lazy-smp2: %d findings, %,d instances: %s%n", findings.size(), instances, counts);

    // Page recycling under lazy flushing: the physical page of an open window is mapped again,
    // mostly by the same device (LOW), sometimes by another device (HIGH: it can reach the first
    // device's buffer through the stale translation). The flush queue never hands an IOVA out
    // before its flush, and every window closes with the 10 ms timer.
    assertThat(findings)
        .extracting(Finding::getType)
        .containsOnly(FindingType.PHYS_REUSE_IN_WINDOW);
    assertThat(findings).hasSizeBetween(500, 5000);
    assertThat(findings).filteredOn(f -> f.getSeverity() == Severity.HIGH).isNotEmpty();
    assertThat(findings)
        .filteredOn(f -> f.getSeverity() == Severity.HIGH)
        .allSatisfy(f -> assertThat(f.getOtherDevice()).isNotEqualTo(f.getDevice()));
    assertThat(findings)
        .filteredOn(f -> f.getSeverity() == Severity.LOW)
        .allSatisfy(f -> assertThat(f.getOtherDevice()).isEqualTo(f.getDevice()));
  }

  @Test
  void aCrossDeviceReuseCheckedAgainstTheTraceLines() throws IOException {
    Finding high =
        replay("lazy-smp2").stream()
            .filter(f -> f.getSeverity() == Severity.HIGH && f.getInstances() == 1)
            .findFirst()
            .orElseThrow();
    // Evidence: the unmap that opened the window, then the map of the same physical page by
    // the other device; sequence numbers are trace line numbers.
    List<String> lines = lines("lazy-smp2", high.getEvidence());
    String unmap = lines.get(0);
    String map = lines.get(1);
    System.out.println(high.getMessage() + "\n  " + unmap + "\n  " + map);

    assertThat(unmap).contains(" unmap: ").contains("iova=0x%016x".formatted(high.getIovaStart()));
    long page = high.getPhysStart() & ~0xfffL;
    assertThat(map).contains(" map: ").contains("paddr=0x%016x".formatted(page));
    // No flush of the holder's domain between them: the window was still open.
    long firstLine = high.getEvidence().get(0);
    long lastLine = high.getEvidence().get(1);
    assertThat(lastLine).isGreaterThan(firstLine);
  }

  private static List<String> lines(String trace, List<Long> numbers) throws IOException {
    List<String> found = new ArrayList<>();
    try (BufferedReader in = TraceInput.open(SharedTraces.trace(trace))) {
      long n = 0;
      for (String line = in.readLine();
          line != null && found.size() < numbers.size();
          line = in.readLine()) {
        if (numbers.contains(++n)) found.add(line);
      }
    }
    return found;
  }

  private static List<Finding> replay(String trace) throws IOException {
    List<Finding> findings = new ArrayList<>();
    FindingPipeline pipeline = new FindingPipeline(trace, DetectorConfig.DEFAULTS, findings::add);
    IommuModel model = new IommuModel(CAPTURE, pipeline.listener());
    pipeline.attach(model);
    SharedTraces.forEachEvent(
        trace,
        event -> {
          pipeline.beforeEvent(event);
          model.apply(event);
        });
    pipeline.finish();
    return findings;
  }
}
