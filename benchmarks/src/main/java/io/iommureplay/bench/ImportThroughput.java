package io.iommureplay.bench;

import io.iommureplay.importer.FtraceImporter;
import io.iommureplay.importer.ImportSink;
import io.iommureplay.importer.TraceInput;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.codec.EventFiles;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.avro.file.CodecFactory;

/**
 * Import throughput on one thread, beside the baseline of merely decompressing the same file and
 * splitting it into lines, measured in the same run and interleaved round by round so that both see
 * the same machine state. Prints lines/s for: the baseline, parsing and attribution alone, and the
 * whole import as {@code iommu-replay import} does it (including writing the Avro file).
 */
public final class ImportThroughput {
  private static final int WARMUP_ROUNDS = 2;
  private static final int MEASURED_ROUNDS = 5;

  private ImportThroughput() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: ImportThroughput TRACE");
      System.exit(2);
    }
    Path trace = Path.of(args[0]);
    Path avro = Files.createTempFile("import-bench", ".avro");
    try {
      long[] raw = new long[MEASURED_ROUNDS];
      long[] parse = new long[MEASURED_ROUNDS];
      long[] full = new long[MEASURED_ROUNDS];
      long[] uncompressed = new long[MEASURED_ROUNDS];
      long lines = 0;
      for (int round = 0; round < WARMUP_ROUNDS + MEASURED_ROUNDS; round++) {
        int i = round - WARMUP_ROUNDS;
        long t0 = System.nanoTime();
        lines = readLines(trace);
        long t1 = System.nanoTime();
        importTo(trace, event -> {});
        long t2 = System.nanoTime();
        importToFile(trace, avro, EventFiles.DEFAULT_CODEC);
        long t3 = System.nanoTime();
        importToFile(trace, avro, CodecFactory.nullCodec());
        long t4 = System.nanoTime();
        if (i >= 0) {
          raw[i] = t1 - t0;
          parse[i] = t2 - t1;
          full[i] = t3 - t2;
          uncompressed[i] = t4 - t3;
        }
      }
      double rawRate = Timing.rate(lines, raw);
      double parseRate = Timing.rate(lines, parse);
      double fullRate = Timing.rate(lines, full);
      double uncompressedRate = Timing.rate(lines, uncompressed);
      System.out.printf(
          "trace %s: %,d lines; median of %d rounds after %d warm-up rounds, one thread%n",
          trace, lines, MEASURED_ROUNDS, WARMUP_ROUNDS);
      System.out.printf(
          "  decompress + split into lines (baseline): %6.2f M lines/s%n", rawRate / 1e6);
      System.out.printf(
          "  import, parse + attribute only:           %6.2f M lines/s  (%.0f%% of baseline)%n",
          parseRate / 1e6, 100 * parseRate / rawRate);
      System.out.printf(
          "  import, including the Avro file write:    %6.2f M lines/s  (%.0f%% of baseline)%n",
          fullRate / 1e6, 100 * fullRate / rawRate);
      System.out.printf(
          "  the same, Avro file not compressed:       %6.2f M lines/s  (%.0f%% of baseline)%n",
          uncompressedRate / 1e6, 100 * uncompressedRate / rawRate);
    } finally {
      Files.deleteIfExists(avro);
    }
  }

  private static long readLines(Path trace) throws IOException {
    long lines = 0;
    try (BufferedReader in = TraceInput.open(trace)) {
      while (in.readLine() != null) lines++;
    }
    return lines;
  }

  private static void importToFile(Path trace, Path avro, CodecFactory codec) throws IOException {
    try (EventFiles.RecordWriter<IommuEvent> writer =
        EventFiles.writer(avro, IommuEvent.class, codec)) {
      importTo(
          trace,
          event -> {
            try {
              writer.append(event);
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          });
    }
  }

  private interface EventConsumer {
    void accept(IommuEvent event);
  }

  private static void importTo(Path trace, EventConsumer consumer) throws IOException {
    FtraceImporter importer =
        new FtraceImporter(
            "bench",
            new ImportSink() {
              @Override
              public void event(IommuEvent event) {
                consumer.accept(event);
              }

              @Override
              public void rejected(RejectedLine line) {}
            });
    try (BufferedReader in = TraceInput.open(trace)) {
      importer.read(trace.toString(), in);
    }
    importer.finish();
  }
}
