package io.iommureplay.detect;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import io.iommureplay.testing.SharedTraces;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** findings.jsonl and summary.json as written here pass ../shared/tools/check-replay-output.py. */
class ReplayOutputContractTest {
  private static final long MS = 1_000_000L;

  @TempDir Path out;

  @Test
  void writtenOutputPassesTheContractChecker() throws Exception {
    writeOutput();

    Checked result = check(out);

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output())
        .contains("contract ok: 3 findings")
        .contains("'PHYS_REUSE_IN_WINDOW': 2");
    assertThat(FindingsJson.read(out.resolve(FindingsJson.FILE_NAME)))
        .extracting(Finding::getInstances)
        .containsExactly(3L, 1L, 1L);
  }

  @Test
  void theCheckerCatchesABrokenField() throws Exception {
    writeOutput();
    Path findings = out.resolve(FindingsJson.FILE_NAME);
    Files.writeString(
        findings,
        Files.readString(findings).replace("\"severity\":\"HIGH\"", "\"severity\":\"high\""));

    Checked result = check(out);

    assertThat(result.exitCode()).isOne();
    assertThat(result.output()).contains("bad severity 'high'");
  }

  /** A small replay: two incidents of physical reuse (one of them cross-device) and a race. */
  private void writeOutput() throws IOException {
    IncidentCoalescer coalescer = new IncidentCoalescer(IncidentCoalescer.Options.DEFAULTS);
    SummaryJson summary = new SummaryJson();
    FindingCounts counts = new FindingCounts(summary.section("findings"));
    try (Writer file = Files.newBufferedWriter(out.resolve(FindingsJson.FILE_NAME));
        FindingsJson.FindingWriter findings = FindingsJson.writer(file)) {
      for (int i = 0; i < 3; i++) {
        coalescer.add(
            reuse(Severity.LOW, 0x10000 + i * 0x1000L, i * MS, 100 + i).inFlushWindow(1).build());
      }
      coalescer.add(
          reuse(Severity.HIGH, 0x20000, 2 * MS, 200)
              .otherParty(2, "0000:00:05.0")
              .inFlushWindow(1)
              .build());
      coalescer.add(
          Detection.builder(FindingType.WRITER_RACE, Severity.HIGH)
              .host("lazy-smp2")
              .on(1, "0000:00:04.0")
              .iova(0xffff_ffff_fff0_0000L, 0xffff_ffff_fff0_1000L)
              .at(3 * MS)
              .evidence(300, 301)
              .message("unmap on cpu 1 overlaps map on cpu 0")
              .build());
      for (Finding finding : coalescer.windowClosed(1, 1)) {
        findings.write(finding);
        counts.count(finding);
      }
      for (Finding finding : coalescer.finish()) {
        findings.write(finding);
        counts.count(finding);
      }
    }
    summary.write(out.resolve(SummaryJson.FILE_NAME));
  }

  private static Detection.Builder reuse(Severity severity, long iova, long tsNs, long seq) {
    return Detection.builder(FindingType.PHYS_REUSE_IN_WINDOW, severity)
        .host("lazy-smp2")
        .on(1, "0000:00:04.0")
        .iova(iova, iova + 0x1000)
        .phys(iova << 4, (iova << 4) + 0x1000)
        .at(tsNs)
        .evidence(seq)
        .message("page mapped again while its window is open");
  }

  private record Checked(int exitCode, String output) {}

  private static Checked check(Path dir) throws IOException, InterruptedException {
    // Skipped without ../shared, failed under CI where it must be there.
    Path checker = SharedTraces.dir().resolveSibling("tools").resolve("check-replay-output.py");
    Process python =
        new ProcessBuilder("python3", checker.toString(), dir.toString())
            .redirectErrorStream(true)
            .start();
    String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Checked(python.waitFor(), output);
  }
}
