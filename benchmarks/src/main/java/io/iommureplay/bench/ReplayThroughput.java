package io.iommureplay.bench;

import io.iommureplay.analytics.HostReplay;
import io.iommureplay.detect.DetectorConfig;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.pagetable.PageTableFormat;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.codec.EventFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Direct replay throughput over an Avro event file (as {@code iommu-replay import} writes it), on
 * one thread, beside two baselines measured in the same run and interleaved round by round: merely
 * decoding the file, and the model alone without detectors. Prints events/s and the ratios.
 */
public final class ReplayThroughput {
  private static final int WARMUP_ROUNDS = 2;
  private static final int MEASURED_ROUNDS = 5;

  private ReplayThroughput() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: ReplayThroughput EVENTS.avro [vtd:LEVELS]");
      System.exit(2);
    }
    Path file = Path.of(args[0]);
    int levels = args.length > 1 ? Integer.parseInt(args[1].substring(4)) : 4;
    ModelConfig config =
        ModelConfig.defaults().withPageTableFormat(PageTableFormat.vtdSecondStage(levels, 2));
    long[] decode = new long[MEASURED_ROUNDS];
    long[] model = new long[MEASURED_ROUNDS];
    long[] full = new long[MEASURED_ROUNDS];
    long events = 0;
    long findings = 0;
    for (int round = 0; round < WARMUP_ROUNDS + MEASURED_ROUNDS; round++) {
      int i = round - WARMUP_ROUNDS;
      long t0 = System.nanoTime();
      events = decodeOnly(file);
      long t1 = System.nanoTime();
      modelOnly(file, config);
      long t2 = System.nanoTime();
      findings = fullReplay(file, config);
      long t3 = System.nanoTime();
      if (i >= 0) {
        decode[i] = t1 - t0;
        model[i] = t2 - t1;
        full[i] = t3 - t2;
      }
    }
    double decodeRate = Timing.rate(events, decode);
    double modelRate = Timing.rate(events, model);
    double fullRate = Timing.rate(events, full);
    System.out.printf(
        "%s: %,d events, %,d findings; median of %d rounds, one thread%n",
        file, events, findings, MEASURED_ROUNDS);
    System.out.printf(
        "  Avro decoding alone (baseline):        %6.2f M events/s%n", decodeRate / 1e6);
    System.out.printf(
        "  decoding + model, no detectors:        %6.2f M events/s  (%.0f%% of decoding)%n",
        modelRate / 1e6, 100 * modelRate / decodeRate);
    System.out.printf(
        "  direct replay, all detectors and stats:%6.2f M events/s  (%.0f%% of decoding)%n",
        fullRate / 1e6, 100 * fullRate / decodeRate);
  }

  private static long decodeOnly(Path file) throws IOException {
    long n = 0;
    try (EventFiles.RecordReader<IommuEvent> reader = EventFiles.reader(file, IommuEvent.class)) {
      while (reader.hasNext()) {
        reader.next();
        n++;
      }
    }
    return n;
  }

  private static void modelOnly(Path file, ModelConfig config) throws IOException {
    Map<String, IommuModel> models = new HashMap<>();
    try (EventFiles.RecordReader<IommuEvent> reader = EventFiles.reader(file, IommuEvent.class)) {
      while (reader.hasNext()) {
        IommuEvent e = reader.next();
        models
            .computeIfAbsent(e.getHost(), h -> new IommuModel(config, ModelListener.NONE))
            .apply(e);
      }
    }
    models.values().forEach(IommuModel::finish);
  }

  private static long fullReplay(Path file, ModelConfig config) throws IOException {
    long[] findings = {0};
    Map<String, HostReplay> hosts = new HashMap<>();
    try (EventFiles.RecordReader<IommuEvent> reader = EventFiles.reader(file, IommuEvent.class)) {
      while (reader.hasNext()) {
        IommuEvent e = reader.next();
        hosts
            .computeIfAbsent(
                e.getHost(),
                h -> new HostReplay(h, config, DetectorConfig.DEFAULTS, f -> findings[0]++))
            .apply(e);
      }
    }
    hosts.values().forEach(HostReplay::finish);
    return findings[0];
  }
}
