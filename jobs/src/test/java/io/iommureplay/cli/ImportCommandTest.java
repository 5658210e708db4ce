package io.iommureplay.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.codec.EventFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ImportCommandTest {
  private static final Path SAMPLE =
      Path.of(System.getProperty("iommureplay.project.dir", ".."))
          .resolve("samples/lazy-smp2-head.trace.xz");

  @TempDir Path dir;

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = IommuReplay.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int exit = cli.execute(args);
    return new Run(exit, out.toString(), err.toString());
  }

  private static List<IommuEvent> read(Path avro) throws IOException {
    List<IommuEvent> events = new ArrayList<>();
    try (EventFiles.RecordReader<IommuEvent> reader = EventFiles.reader(avro, IommuEvent.class)) {
      while (reader.hasNext()) events.add(IommuEvent.newBuilder(reader.next()).build());
    }
    return events;
  }

  @Test
  void importsTheSampleTraceAndReportsCountsAndAttribution() throws IOException {
    Path out = dir.resolve("sample.avro");
    Run run = run("import", SAMPLE.toString(), "-o", out.toString());

    assertThat(run.exit()).as(run.err()).isZero();
    assertThat(run.out())
        .contains("ftrace text of host lazy-smp2-head, 59,988 events, 0 rejected lines")
        .contains("6673  map")
        .contains("56  qi_submit iotlb_inv")
        .contains("map/unmap attributed to device and domain: 100.00%")
        .contains("unknown line kinds: none");
    List<IommuEvent> events = read(out);
    assertThat(events).hasSize(59_988);
    assertThat(events).filteredOn(e -> e.getType() == EventType.MAP).hasSize(6673);
    assertThat(events.get(0).getHost()).isEqualTo("lazy-smp2-head");
  }

  @Test
  void theSameTraceGivesByteIdenticalFiles() throws IOException {
    Path first = dir.resolve("first.avro");
    Path second = dir.resolve("second.avro");
    assertThat(run("import", SAMPLE.toString(), "-o", first.toString()).exit()).isZero();
    assertThat(run("import", SAMPLE.toString(), "-o", second.toString()).exit()).isZero();

    assertThat(Files.readAllBytes(second)).isEqualTo(Files.readAllBytes(first));
  }

  @Test
  void avroAndJsonLinesRoundTrip() throws IOException {
    Path avro = dir.resolve("a.avro");
    Path jsonl = dir.resolve("a.jsonl");
    Path back = dir.resolve("b.avro");
    assertThat(run("import", SAMPLE.toString(), "-o", avro.toString()).exit()).isZero();
    assertThat(run("import", avro.toString(), "-o", jsonl.toString()).exit()).isZero();
    assertThat(run("import", jsonl.toString(), "-o", back.toString()).exit()).isZero();

    assertThat(Files.readAllBytes(back)).isEqualTo(Files.readAllBytes(avro));
  }

  @Test
  void badLinesAreReportedKeptAndSkipped() throws IOException {
    Path trace = dir.resolve("bad.trace");
    Files.writeString(
        trace,
        """
        # tracer: nop
                  init-1       [000] .....     2.164400: map: IOMMU: iova=0x0000000000000000 - 0x0000000001000000 paddr=0x0000000000000000 size=16777216
                  init-1       [000] .....     2.164401: map: IOMMU: iova=0xZZ - 0x0000000001000000 paddr=0x0 size=4096
        this is not a trace line
                  init-1       [000] .....     2.164402: unmap: IOMMU: iova=0x0000000000000000 - 0x0000000001000000 size=16777216 unmapped_size=16777216
                  init-1       [000] .....     2.164403: sched_switch: prev_comm=init
        """);
    Path out = dir.resolve("bad.avro");
    Run run = run("import", trace.toString(), "-o", out.toString());

    assertThat(run.exit()).isZero();
    assertThat(run.err()).contains("bad.trace:3: bad number for iova").contains("bad.trace:4: ");
    assertThat(Files.readAllLines(dir.resolve("bad.avro.rejected.txt"))).hasSize(2);
    assertThat(run.out()).contains("1  sched_switch");
    assertThat(read(out))
        .extracting(IommuEvent::getType)
        .containsExactly(EventType.MAP, EventType.UNMAP);
  }

  @Test
  void anUnreadableInputIsAClearError() {
    Run run =
        run(
            "import",
            dir.resolve("missing.trace").toString(),
            "-o",
            dir.resolve("x.avro").toString());

    assertThat(run.exit()).isEqualTo(2);
    assertThat(run.err()).contains("no such file: " + dir.resolve("missing.trace"));
  }

  @Test
  void helpListsOnlyImplementedCommands() {
    Run run = run("--help");

    assertThat(run.exit()).isZero();
    assertThat(IommuReplay.commandLine().getSubcommands().keySet())
        .containsExactly("import", "replay", "generate", "help");
    assertThat(run.out()).containsPattern("(?m)^\\s+import\\s+Reads Linux ftrace text");
  }
}
