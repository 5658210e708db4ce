package io.iommureplay.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

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
