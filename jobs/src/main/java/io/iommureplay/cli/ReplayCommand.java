package io.iommureplay.cli;

import io.iommureplay.detect.DetectorConfig;
import io.iommureplay.detect.FindingsJson;
import io.iommureplay.detect.SummaryJson;
import io.iommureplay.jobs.direct.DirectReplay;
import io.iommureplay.model.InvalidationMode;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.iotlb.IotlbConfig;
import io.iommureplay.model.iova.KernelProfile;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code replay INPUT... --out DIR}: offline replay of recorded traces. */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    description = {
      "Replays trace files (ftrace text, JSON-lines or Avro events) against the IOMMU model and "
          + "writes DIR/findings.jsonl (one finding per line), DIR/summary.json (counts, window "
          + "lengths, allocator statistics) and DIR/rejected.txt (input lines that could not be "
          + "read).",
    },
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {
      "0:the replay ran (findings or not)",
      "2:an input could not be read or an output not written"
    })
final class ReplayCommand implements Callable<Integer> {
  /** Replay engines. */
  enum Engine {
    direct
  }

  @Spec CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "INPUT", description = "Trace files, read in order.")
  List<Path> inputs;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "DIR",
      description = "Output directory (created if missing).")
  Path out;

  @Option(
      names = "--engine",
      defaultValue = "direct",
      paramLabel = "ENGINE",
      description = "direct: single-process replay (default).")
  Engine engine;

  @Option(
      names = "--mode",
      defaultValue = "auto",
      paramLabel = "MODE",
      converter = ModeConverter.class,
      description =
          "auto (default): each DMA domain is lazy if the trace shows its unmaps queued (flush "
              + "queue), else strict; strict or lazy: domains the trace does not show either way.")
  InvalidationMode mode;

  @Option(
      names = "--host",
      paramLabel = "NAME",
      description = "Host of all ftrace inputs (default: each file is its own host).")
  String host;

  @Option(
      names = "--page-table",
      defaultValue = "vtd:4",
      paramLabel = "FORMAT",
      description =
          "Page-table format of the traced IOMMU: vtd:3, vtd:4, vtd:5 (VT-d second stage, levels),"
              + " amd (AMD v1) or arm:IAS (ARM LPAE 4K granule, input address bits). Default: "
              + "${DEFAULT-VALUE}.")
  String pageTable;

  @Option(
      names = "--allocator-profile",
      defaultValue = "linux-6.7",
      paramLabel = "PROFILE",
      description =
          "Kernel whose IOVA allocator is replayed: linux-6.7, linux-6.1, debian-6.1-stable or "
              + "linux-5.15. Default: ${DEFAULT-VALUE}.")
  String allocatorProfile;

  @Option(
      names = "--cpus",
      defaultValue = "64",
      paramLabel = "N",
      description = "Possible CPUs of the traced host. Default: ${DEFAULT-VALUE}.")
  int cpus;

  @Option(
      names = "--iotlb",
      defaultValue = "conservative",
      paramLabel = "MODE",
      description =
          "conservative (default): any mapped page may be cached, so every unmap opens a window; "
              + "observed: only pages the trace shows a device access may be cached.")
  String iotlb;

  @Option(
      names = "--long-window-ms",
      defaultValue = "100",
      paramLabel = "MS",
      description =
          "Windows open longer than this are LONG_WINDOW findings, and MISSING_FLUSH when still "
              + "open this long at the end. Default: ${DEFAULT-VALUE}.")
  double longWindowMs;

  @Override
  public Integer call() throws IOException {
    ModelConfig config =
        ModelConfig.defaults()
            .withPageTableFormat(pageTableFormat(pageTable))
            .withMode(mode)
            .withIotlb(iotlbConfig(iotlb))
            .withFlushQueue(ModelConfig.defaults().flushQueue(), cpus)
            .withAllocatorProfile(profile(allocatorProfile));
    DetectorConfig detectors =
        DetectorConfig.DEFAULTS.withLongWindowNs((long) (longWindowMs * 1_000_000));
    DirectReplay.Result result = new DirectReplay(config, detectors).run(inputs, host, out);
    print(spec.commandLine().getOut(), result);
    return 0;
  }

  private void print(PrintWriter w, DirectReplay.Result result) {
    long events = result.input().files().stream().mapToLong(f -> f.events()).sum();
    w.printf(
        "replayed %,d events from %d input(s); %,d lines rejected%n",
        events, result.input().files().size(), result.rejectedLines());
    Map<FindingType, Long> incidents = new TreeMap<>();
    Map<FindingType, Long> instances = new TreeMap<>();
    Map<Severity, Long> bySeverity = new EnumMap<>(Severity.class);
    for (Finding f : result.findings()) {
      incidents.merge(f.getType(), 1L, Long::sum);
      instances.merge(f.getType(), f.getInstances(), Long::sum);
      bySeverity.merge(f.getSeverity(), 1L, Long::sum);
    }
    w.printf("%,d findings %s%n", result.findings().size(), bySeverity);
    incidents.forEach(
        (type, n) -> w.printf("%10d  %-26s (%,d instances)%n", n, type, instances.get(type)));
    w.printf(
        "wrote %s, %s and %s in %s%n",
        FindingsJson.FILE_NAME, SummaryJson.FILE_NAME, DirectReplay.REJECTED_FILE, out);
  }

  static PageTableFormat pageTableFormat(String spec) {
    String[] parts = spec.split(":");
    try {
      return switch (parts[0]) {
        case "vtd" ->
            PageTableFormat.vtdSecondStage(parts.length > 1 ? Integer.parseInt(parts[1]) : 4, 2);
        case "amd" -> PageTableFormat.amdV1();
        case "arm" -> PageTableFormat.armLpae4k(parts.length > 1 ? Integer.parseInt(parts[1]) : 48);
        default -> throw new IllegalArgumentException("unknown page-table format " + spec);
      };
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad page-table format " + spec + ": " + e.getMessage());
    }
  }

  static KernelProfile profile(String name) {
    for (KernelProfile p :
        List.of(
            KernelProfile.LINUX_6_7,
            KernelProfile.LINUX_6_1,
            KernelProfile.DEBIAN_6_1_STABLE,
            KernelProfile.LINUX_5_15)) {
      if (p.name().equals(name)) return p;
    }
    throw new IllegalArgumentException("unknown allocator profile " + name);
  }

  static IotlbConfig iotlbConfig(String name) {
    return switch (name) {
      case "conservative" -> IotlbConfig.DEFAULT;
      case "observed" -> new IotlbConfig(IotlbConfig.Mode.OBSERVED, IotlbConfig.UNLIMITED);
      default -> throw new IllegalArgumentException("unknown IOTLB mode " + name);
    };
  }

  /** auto, strict, lazy in lower case on the command line. */
  static final class ModeConverter implements picocli.CommandLine.ITypeConverter<InvalidationMode> {
    @Override
    public InvalidationMode convert(String value) {
      return InvalidationMode.valueOf(value.toUpperCase(java.util.Locale.ROOT));
    }
  }
}
