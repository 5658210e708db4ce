package io.iommureplay.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.iommureplay.importer.FtraceImporter;
import io.iommureplay.importer.ImportSink;
import io.iommureplay.importer.TraceInput;
import io.iommureplay.schema.IommuEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The real captures in ../shared/traces (read-only test data beside the repository). Tests that
 * need them are skipped on a clone without ../shared, and fail under CI, where it is always there.
 */
public final class SharedTraces {
  private SharedTraces() {}

  public static Path dir() {
    Path dir =
        Path.of(System.getProperty("iommureplay.shared.dir", "../../shared")).resolve("traces");
    if (!Files.isDirectory(dir)) {
      if (System.getenv("CI") != null) fail("shared traces not found at " + dir.toAbsolutePath());
      assumeTrue(false, "shared traces not found at " + dir.toAbsolutePath());
    }
    return dir;
  }

  public static Path trace(String name) {
    return dir().resolve(name + ".trace.gz");
  }

  /** Imports a shared trace (host = its name) and hands every event to {@code sink}, in order. */
  public static void forEachEvent(String name, Consumer<IommuEvent> sink) {
    FtraceImporter importer =
        new FtraceImporter(
            name,
            new ImportSink() {
              @Override
              public void event(IommuEvent event) {
                sink.accept(event);
              }

              @Override
              public void rejected(RejectedLine line) {}
            });
    try (BufferedReader in = TraceInput.open(trace(name))) {
      importer.read(name, in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    importer.finish();
  }

  /**
   * The {@code NAME.counts.txt} beside a trace: events per type, "qi_submit KIND" split by kind.
   */
  public static Map<String, Long> counts(String name) {
    Map<String, Long> counts = new LinkedHashMap<>();
    try {
      for (String line : Files.readAllLines(dir().resolve(name + ".counts.txt"))) {
        String trimmed = line.strip();
        if (trimmed.isEmpty()) continue;
        int space = trimmed.indexOf(' ');
        counts.put(
            trimmed.substring(space + 1).strip(), Long.parseLong(trimmed.substring(0, space)));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return counts;
  }
}
