package io.iommureplay.cli;

import io.iommureplay.generate.GeneratorOptions;
import io.iommureplay.generate.Label;
import io.iommureplay.generate.Labels;
import io.iommureplay.generate.Workload;
import io.iommureplay.generate.WorkloadGenerator;
import io.iommureplay.schema.FindingType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code generate}: synthetic traces with labelled injected bugs. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = {
      "Generates a realistic synthetic trace, deterministic from its seed, optionally with injected "
          + "bugs of the given finding types, and writes it as Avro events (JSON lines when OUT "
          + "ends in .jsonl) and the ground truth of the injected bugs as JSON lines."
    },
    exitCodeListHeading = "%nExit status:%n",
    exitCodeList = {"0:the trace was written", "2:bad options, or an output not written"})
final class GenerateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--workload",
      defaultValue = "mix",
      paramLabel = "W",
      description =
          "nic (rx/tx rings of 4K/2K buffers, page recycling), nvme (scatter-gather), gpu (2M/1G "
              + "mappings, SVA), vfio (static guest mappings) or mix. Default: ${DEFAULT-VALUE}.")
  String workload;

  @Option(
      names = "--events",
      defaultValue = "1000000",
      paramLabel = "N",
      description = "About how many events. Default: ${DEFAULT-VALUE}.")
  long events;

  @Option(
      names = "--inject",
      split = ",",
      paramLabel = "T[:N]",
      description =
          "Finding types to inject (SPEC names, e.g. PHYS_REUSE_IN_WINDOW), each N times (default"
              + " 5); ALL for every type.")
  List<String> inject = List.of();

  @Option(
      names = "--seed",
      defaultValue = "1",
      paramLabel = "S",
      description = "Seed. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(
      names = "--cpus",
      defaultValue = "4",
      paramLabel = "N",
      description = "CPUs. Default: ${DEFAULT-VALUE}.")
  int cpus;

  @Option(
      names = "--mode",
      defaultValue = "lazy",
      paramLabel = "MODE",
      description = "strict or lazy invalidation of DMA domains. Default: ${DEFAULT-VALUE}.")
  String mode;

  @Option(
      names = "--hosts",
      defaultValue = "1",
      paramLabel = "N",
      description = "Hosts. Default: ${DEFAULT-VALUE}.")
  int hosts;

  @Option(
      names = {"-o", "--output"},
      required = true,
      paramLabel = "OUT",
      description = "Event file: Avro, or JSON lines when the name ends in .jsonl.")
  Path output;

  @Option(
      names = "--labels",
      paramLabel = "L",
      description = "Labels file (JSON lines). Default: OUT's directory/labels.jsonl.")
  Path labels;

  @Override
  public Integer call() throws IOException {
    GeneratorOptions options =
        GeneratorOptions.defaults()
            .withWorkload(Workload.valueOf(workload.toUpperCase(Locale.ROOT)))
            .withEvents(events)
            .withCpus(cpus)
            .withLazy(
                switch (mode) {
                  case "lazy" -> true;
                  case "strict" -> false;
                  default ->
                      throw new IllegalArgumentException("--mode is strict or lazy, not " + mode);
                })
            .withHosts(hosts)
            .withSeed(seed)
            .withInject(injections(inject));
    Path labelFile =
        labels != null ? labels : output.toAbsolutePath().resolveSibling(Labels.FILE_NAME);
    long[] written = {0};
    List<Label> truth;
    try (EventOutput sink = EventOutput.open(output)) {
      truth =
          WorkloadGenerator.generate(
              options,
              e -> {
                sink.write(e);
                written[0]++;
              });
    }
    Labels.write(labelFile, truth);
    spec.commandLine()
        .getOut()
        .printf(
            "wrote %,d events to %s and %d labels to %s%n",
            written[0], output, truth.size(), labelFile);
    return 0;
  }

  static Map<FindingType, Integer> injections(List<String> specs) {
    Map<FindingType, Integer> bugs = new EnumMap<>(FindingType.class);
    for (String spec : specs) {
      String[] parts = spec.split(":");
      int count = parts.length > 1 ? Integer.parseInt(parts[1]) : 5;
      if (parts[0].equalsIgnoreCase("ALL")) {
        for (FindingType t : FindingType.values()) if (t != FindingType.UNKNOWN) bugs.put(t, count);
      } else {
        bugs.put(FindingType.valueOf(parts[0].toUpperCase(Locale.ROOT)), count);
      }
    }
    return bugs;
  }
}
