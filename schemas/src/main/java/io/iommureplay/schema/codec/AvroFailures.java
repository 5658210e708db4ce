package io.iommureplay.schema.codec;

import java.util.ArrayList;
import java.util.List;

/** Telling bad data from bad setup in Avro's exceptions, and saying what went wrong in one line. */
final class AvroFailures {

  private AvroFailures() {}

  /**
   * Throws when Avro failed because it refused to load a generated class (trusted packages not
   * configured): every record would fail the same way, so it must not be reported as one bad
   * record.
   */
  static void checkNotRefused(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SecurityException) {
        throw new IllegalStateException(
            "Avro refused to load a generated class; run the JVM with"
                + " -Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.iommureplay.schema",
            e);
      }
    }
  }

  /**
   * The messages of the exception and its causes, joined; Avro often puts the useful part in a
   * cause.
   */
  static String describe(Throwable e) {
    List<String> parts = new ArrayList<>();
    for (Throwable t = e; t != null; t = t.getCause()) {
      String part = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
      // Wrappers built from a cause repeat its toString() as their message.
      if (t.getCause() == null || !part.equals(t.getCause().toString())) {
        parts.add(part);
      }
    }
    return String.join(": ", parts);
  }
}
