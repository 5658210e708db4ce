package io.iommureplay.importer;

import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.codec.EventFiles;
import io.iommureplay.schema.codec.EventJsonLines;
import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the input files users hand to {@code import} and {@code replay}: Linux ftrace text (plain,
 * .gz or .xz), the project's JSON-lines events, or Avro event container files, told apart by their
 * content. Each ftrace file is one host (named after the file) unless a host name is given, in
 * which case all ftrace files are that host, read in order.
 */
public final class TraceFiles {
  /** What a file holds. */
  public enum Kind {
    FTRACE,
    JSON_LINES,
    AVRO
  }

  private TraceFiles() {}

  public static Kind kindOf(Path file) throws IOException {
    if (EventFiles.isAvroContainer(file)) return Kind.AVRO;
    try (InputStream in =
        TraceInput.decompressed(new BufferedInputStream(Files.newInputStream(file)))) {
      for (int b = in.read(); b >= 0; b = in.read()) {
        if (!Character.isWhitespace(b)) return b == '{' ? Kind.JSON_LINES : Kind.FTRACE;
      }
    }
    return Kind.FTRACE;
  }

  /**
   * The host a trace file stands for: its name without directory and trace/compression suffixes.
   */
  public static String hostOf(Path file) {
    String name = file.getFileName().toString();
    for (String suffix :
        List.of(".gz", ".xz", ".trace", ".txt", ".log", ".jsonl", ".json", ".avro")) {
      if (name.endsWith(suffix) && name.length() > suffix.length()) {
        name = name.substring(0, name.length() - suffix.length());
      }
    }
    return name;
  }

  /**
   * What reading one input file found; {@code host} is null for files whose events name their own
   * hosts.
   */
  public record FileReport(Path file, Kind kind, String host, long events, long rejected) {}

  /** What reading all the files found: per file, and the ftrace import statistics per host. */
  public record Report(List<FileReport> files, Map<String, ImportStats> ftraceByHost) {}

  /**
   * Reads every file in order into {@code sink}.
   *
   * @param host the host of all ftrace files, or null for one host per file
   * @throws IOException when a file cannot be read at all (a bad line is not that: it is rejected)
   */
  public static Report read(List<Path> files, String host, ImportSink sink) throws IOException {
    Map<String, FtraceImporter> importers = new LinkedHashMap<>();
    List<FileReport> reports = new ArrayList<>();
    CountingSink counting = new CountingSink(sink);
    for (Path file : files) {
      Kind kind = kindOf(file);
      long eventsBefore = counting.events;
      long rejectedBefore = counting.rejected;
      String label = file.toString();
      String fileHost = null;
      switch (kind) {
        case FTRACE -> {
          fileHost = host != null ? host : hostOf(file);
          FtraceImporter importer =
              importers.computeIfAbsent(fileHost, h -> new FtraceImporter(h, counting));
          try (BufferedReader in = TraceInput.open(file)) {
            importer.read(label, in);
          }
          importer.finish();
        }
        case JSON_LINES -> {
          try (BufferedReader in = TraceInput.open(file);
              EventJsonLines.EventReader reader =
                  EventJsonLines.reader(
                      in,
                      error ->
                          counting.rejected(
                              new ImportSink.RejectedLine(
                                  label, error.line(), error.message(), error.text())))) {
            for (IommuEvent e = reader.read(); e != null; e = reader.read()) counting.event(e);
          }
        }
        case AVRO -> {
          try (EventFiles.RecordReader<IommuEvent> reader =
              EventFiles.reader(file, IommuEvent.class)) {
            while (reader.hasNext()) counting.event(reader.next());
          }
        }
      }
      reports.add(
          new FileReport(
              file,
              kind,
              fileHost,
              counting.events - eventsBefore,
              counting.rejected - rejectedBefore));
    }
    Map<String, ImportStats> stats = new LinkedHashMap<>();
    importers.forEach((h, importer) -> stats.put(h, importer.stats()));
    return new Report(List.copyOf(reports), stats);
  }

  /** Counts what passes through to the real sink. */
  private static final class CountingSink implements ImportSink {
    private final ImportSink target;
    long events;
    long rejected;

    CountingSink(ImportSink target) {
      this.target = target;
    }

    @Override
    public void event(IommuEvent event) {
      events++;
      target.event(event);
    }

    @Override
    public void rejected(RejectedLine line) {
      rejected++;
      target.rejected(line);
    }
  }
}
