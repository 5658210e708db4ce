package io.iommureplay.cli;

import io.iommureplay.importer.ImportSink;
import io.iommureplay.importer.ImportStats;
import io.iommureplay.importer.TraceFiles;
import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.IommuEvent;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code import TRACE... -o EVENTS.avro}: trace files to the event schema. */
@Command(
    name = "import",
    mixinStandardHelpOptions = true,
    description = {
      "Reads Linux ftrace text (plain, .gz or .xz; tracefs 'trace' or 'trace-cmd report' output) or "
          + "JSON-lines events, and writes the events as an Avro container file (or JSON lines when OUT ends "
          + "in .jsonl).",
      "Prints events per trace event and per unknown line kind, and how many map/unmap events were "
          + "attributed to a device and domain. Lines that do not parse are reported with their line number, "
          + "written to OUT.rejected.txt, and the import goes on.",
    },
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {
      "0:the input was read (rejected lines or not)",
      "2:an input could not be read or OUT not written"
    })
final class ImportCommand implements Callable<Integer> {
  private static final int REJECTS_SHOWN = 10;

  @Spec CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "TRACE", description = "Trace files, read in order.")
  List<Path> inputs;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "OUT",
      description =
          "Event file to write: Avro container, or JSON lines when the name ends in .jsonl.")
  Path output;

  @Option(
      names = "--host",
      paramLabel = "NAME",
      description =
          "Host of all ftrace inputs, read as one trace in order. Default: each file is its own "
              + "host, named after the file (lazy-smp2.trace.gz → lazy-smp2).")
  String host;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Path rejectsFile = output.resolveSibling(output.getFileName() + ".rejected.txt");
    Files.deleteIfExists(rejectsFile);
    TraceFiles.Report report;
    try (EventOutput events = EventOutput.open(output);
        Rejects rejects = new Rejects(rejectsFile, err)) {
      report =
          TraceFiles.read(
              inputs,
              host,
              new ImportSink() {
                @Override
                public void event(IommuEvent event) {
                  events.write(event);
                }

                @Override
                public void rejected(RejectedLine line) {
                  rejects.add(line);
                }
              });
    }
    for (TraceFiles.FileReport file : report.files()) {
      out.printf(
          "%s: %s%s, %,d events, %,d rejected lines%n",
          file.file(),
          describe(file.kind()),
          file.host() == null ? "" : " of host " + file.host(),
          file.events(),
          file.rejected());
    }
    report.ftraceByHost().forEach((h, stats) -> printStats(out, h, stats));
    long rejected = report.files().stream().mapToLong(TraceFiles.FileReport::rejected).sum();
    if (rejected > 0) err.printf("%,d rejected lines written to %s%n", rejected, rejectsFile);
    out.printf("wrote %s%n", output);
    return 0;
  }

  private static String describe(TraceFiles.Kind kind) {
    return switch (kind) {
      case FTRACE -> "ftrace text";
      case JSON_LINES -> "JSON-lines events";
      case AVRO -> "Avro events";
    };
  }

  private static void printStats(PrintWriter out, String host, ImportStats stats) {
    out.printf(
        "%nhost %s: %,d lines (%,d header), %,d events, %,d malformed%n",
        host, stats.lines(), stats.headerLines(), stats.events(), stats.malformedLines());
    out.println("events per trace event:");
    printCounts(out, stats.eventsBySource());
    out.printf(
        "map/unmap attributed to device and domain: %.2f%% %s%n",
        stats.mapUnmapAttributionRate() * 100, describeAttribution(stats.mapUnmapAttribution()));
    if (stats.unknownKinds().isEmpty()) {
      out.println("unknown line kinds: none");
    } else {
      out.println("unknown line kinds (counted, not modelled):");
      printCounts(out, stats.unknownKinds());
    }
  }

  private static String describeAttribution(Map<Attribution, Long> counts) {
    StringBuilder s = new StringBuilder("(");
    counts.forEach(
        (a, n) ->
            s.append(s.length() > 1 ? ", " : "")
                .append(a.name().toLowerCase())
                .append(' ')
                .append(String.format("%,d", n)));
    return s.append(')').toString();
  }

  private static void printCounts(PrintWriter out, Map<String, Long> counts) {
    counts.entrySet().stream()
        .sorted(
            Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())
                .thenComparing(Map.Entry.comparingByKey()))
        .forEach(e -> out.printf("%12d  %s%n", e.getValue(), e.getKey()));
  }

  /** Rejected lines: all to a file beside the output, the first few on stderr. */
  private static final class Rejects implements AutoCloseable {
    private final Path file;
    private final PrintWriter err;
    private BufferedWriter writer;
    private long count;

    Rejects(Path file, PrintWriter err) {
      this.file = file;
      this.err = err;
    }

    void add(ImportSink.RejectedLine line) {
      if (count++ < REJECTS_SHOWN) err.println("rejected " + line);
      try {
        if (writer == null) writer = Files.newBufferedWriter(file);
        writer.write(line.toString());
        writer.newLine();
      } catch (IOException e) {
        throw new UncheckedIOException(file + ": " + e.getMessage(), e);
      }
    }

    @Override
    public void close() throws IOException {
      if (writer != null) writer.close();
    }
  }
}
