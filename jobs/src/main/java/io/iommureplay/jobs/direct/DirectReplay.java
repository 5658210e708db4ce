package io.iommureplay.jobs.direct;

import io.iommureplay.analytics.HostReplay;
import io.iommureplay.analytics.ReplayStatistics;
import io.iommureplay.detect.DetectorConfig;
import io.iommureplay.detect.FindingCounts;
import io.iommureplay.detect.FindingOrder;
import io.iommureplay.detect.FindingsJson;
import io.iommureplay.detect.SummaryJson;
import io.iommureplay.importer.ImportSink;
import io.iommureplay.importer.ImportStats;
import io.iommureplay.importer.TraceFiles;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.IommuEvent;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The single-process replay (SPEC "Engines → a single-process direct replay for one machine"):
 * reads trace files in order, replays each host's events through its own model and detectors, and
 * writes findings.jsonl, summary.json and the lines it could not read into the output directory.
 * Deterministic: the same inputs give the same files, byte for byte.
 */
public final class DirectReplay {
  /** Lines of the input that could not be read, with where and why. */
  public static final String REJECTED_FILE = "rejected.txt";

  private final ModelConfig modelConfig;
  private final DetectorConfig detectorConfig;

  public DirectReplay(ModelConfig modelConfig, DetectorConfig detectorConfig) {
    this.modelConfig = modelConfig;
    this.detectorConfig = detectorConfig;
  }

  /** What a replay did. */
  public record Result(
      TraceFiles.Report input, List<Finding> findings, SummaryJson summary, long rejectedLines) {}

  /**
   * Replays {@code inputs} into {@code outDir} (created if missing).
   *
   * @param host the host of all ftrace inputs, or null for one per file
   * @throws IOException when an input cannot be read at all or an output not written
   */
  public Result run(List<Path> inputs, String host, Path outDir) throws IOException {
    Files.createDirectories(outDir);
    Map<String, HostReplay> hosts = new LinkedHashMap<>();
    List<Finding> findings = new ArrayList<>();
    long[] rejected = {0};
    TraceFiles.Report input;
    try (Writer rejects = Files.newBufferedWriter(outDir.resolve(REJECTED_FILE))) {
      input =
          TraceFiles.read(
              inputs,
              host,
              new ImportSink() {
                @Override
                public void event(IommuEvent event) {
                  hosts
                      .computeIfAbsent(
                          event.getHost(),
                          h -> new HostReplay(h, modelConfig, detectorConfig, findings::add))
                      .apply(event);
                }

                @Override
                public void rejected(RejectedLine line) {
                  rejected[0]++;
                  try {
                    rejects.write(line.toString());
                    rejects.write('\n');
                  } catch (IOException e) {
                    throw new UncheckedIOException(e);
                  }
                }
              });
    }
    hosts.values().forEach(HostReplay::finish);
    findings.sort(FindingOrder.CANONICAL);
    writeFindings(outDir.resolve(FindingsJson.FILE_NAME), findings);
    SummaryJson summary = summary(input, hosts, findings, rejected[0]);
    summary.write(outDir.resolve(SummaryJson.FILE_NAME));
    return new Result(input, List.copyOf(findings), summary, rejected[0]);
  }

  private static void writeFindings(Path file, List<Finding> findings) throws IOException {
    try (BufferedWriter writer = Files.newBufferedWriter(file);
        FindingsJson.FindingWriter out = FindingsJson.writer(writer)) {
      for (Finding finding : findings) out.write(finding);
    }
  }

  private static SummaryJson summary(
      TraceFiles.Report input,
      Map<String, HostReplay> hosts,
      List<Finding> findings,
      long rejected) {
    SummaryJson summary = new SummaryJson();
    SummaryJson inputs = summary.section("inputs");
    for (TraceFiles.FileReport file : input.files()) {
      inputs
          .section(file.file().toString())
          .put("kind", file.kind().name())
          .put("host", file.host() == null ? "" : file.host())
          .put("events", file.events())
          .put("rejectedLines", file.rejected());
    }
    summary.put("rejectedLines", rejected);
    SummaryJson unparsed = summary.section("unparsedLines");
    for (Map.Entry<String, ImportStats> e : input.ftraceByHost().entrySet()) {
      SummaryJson host = unparsed.section(e.getKey());
      host.put("malformed", e.getValue().malformedLines());
      SummaryJson kinds = host.section("unknownKinds");
      e.getValue().unknownKinds().forEach(kinds::put);
      host.put("mapUnmapAttributionRate", e.getValue().mapUnmapAttributionRate());
    }
    FindingCounts counts = new FindingCounts(summary.section("findings"));
    findings.forEach(counts::count);
    SummaryJson events = summary.section("events");
    for (HostReplay replay : hosts.values()) {
      ReplayStatistics statistics = replay.statistics();
      statistics.writeTo(summary);
      statistics.eventsByType().forEach((type, n) -> events.add(type.name(), n));
    }
    return summary;
  }
}
