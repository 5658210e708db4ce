package io.iommureplay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.detect.FindingsJson;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ReplayCommandTest {
  private static final Path SAMPLE =
      Path.of(System.getProperty("iommureplay.project.dir", ".."))
          .resolve("samples/lazy-smp2-head.trace.xz");

  @TempDir Path dir;

  private static String run(int expectedExit, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = IommuReplay.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    assertThat(cli.execute(args)).as(err.toString()).isEqualTo(expectedExit);
    return out + err.toString();
  }

  @Test
  void replaysTheSampleIntoTheContractFiles() throws Exception {
    Path out = dir.resolve("out");
    String printed =
        run(0, "replay", SAMPLE.toString(), "--out", out.toString(), "--page-table", "vtd:3");

    assertThat(printed).contains("replayed 59,988 events").contains("PHYS_REUSE_IN_WINDOW");
    List<Finding> findings = FindingsJson.read(out.resolve("findings.jsonl"));
    assertThat(findings)
        .isNotEmpty()
        .extracting(Finding::getType)
        .containsOnly(FindingType.PHYS_REUSE_IN_WINDOW);
    String summary = Files.readString(out.resolve("summary.json"));
    assertThat(summary)
        .contains("\"kernelAgreement\"")
        .contains("\"windowLengthNs\"")
        .contains("\"fullFlushesObserved\"");
    // The contract's own checker, where Python is on the machine.
    Path checker =
        Path.of(System.getProperty("iommureplay.shared.dir", "../../shared"))
            .resolve("tools/check-replay-output.py");
    if (Files.exists(checker)) {
      Process p =
          new ProcessBuilder("python3", checker.toString(), out.toString())
              .redirectErrorStream(true)
              .start();
      String report = new String(p.getInputStream().readAllBytes());
      assertThat(p.waitFor()).as(report).isZero();
      assertThat(report).contains("contract ok");
    }
  }

  @Test
  void theSameInputGivesTheSameFilesByteForByte() throws IOException {
    run(
        0,
        "replay",
        SAMPLE.toString(),
        "--out",
        dir.resolve("a").toString(),
        "--page-table",
        "vtd:3");
    run(
        0,
        "replay",
        SAMPLE.toString(),
        "--out",
        dir.resolve("b").toString(),
        "--page-table",
        "vtd:3");

    for (String file : List.of("findings.jsonl", "summary.json")) {
      assertThat(Files.readAllBytes(dir.resolve("b").resolve(file)))
          .as(file)
          .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(file)));
    }
  }

  @Test
  void anUnreadableInputIsAClearError() {
    assertThat(run(2, "replay", dir.resolve("nope.trace").toString(), "--out", dir.toString()))
        .contains("no such file: ");
  }

  @Test
  void aBadOptionValueIsRefused() {
    assertThat(
            run(2, "replay", SAMPLE.toString(), "--out", dir.toString(), "--page-table", "sparc"))
        .contains("unknown page-table format sparc");
  }
}
