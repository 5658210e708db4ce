package io.iommureplay.detect;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A JSON object built a section at a time, for {@code summary.json} (SPEC "Contract"): each part of
 * a replay fills its own section (findings, events by type, window percentiles, allocator
 * statistics, unparsed lines). Keys are written sorted, so the document is the same byte for byte
 * whatever order its parts were added in. Numbers are JSON integers, or finite doubles for rates.
 * Not thread-safe.
 */
public final class SummaryJson {
  public static final String FILE_NAME = "summary.json";

  private static final JsonFactory JSON = new JsonFactory();

  private final SortedMap<String, Object> entries = new TreeMap<>();

  /** The section under {@code key}, created empty on first use. */
  public SummaryJson section(String key) {
    if (entries.computeIfAbsent(key, k -> new SummaryJson()) instanceof SummaryJson section) {
      return section;
    }
    throw new IllegalArgumentException(key + " holds a value, not a section");
  }

  /** Sets {@code key}, which must not be set yet. */
  public SummaryJson put(String key, long value) {
    return putNew(key, value);
  }

  /** Sets {@code key}, which must not be set yet, to a finite number. */
  public SummaryJson put(String key, double value) {
    if (!Double.isFinite(value)) {
      throw new IllegalArgumentException(key + ": JSON has no " + value);
    }
    return putNew(key, value);
  }

  /** Sets {@code key}, which must not be set yet. */
  public SummaryJson put(String key, String value) {
    return putNew(key, requireNonNull(value, key));
  }

  /** Adds {@code amount} to the count under {@code key}, which starts at 0. */
  public SummaryJson add(String key, long amount) {
    if (!(entries.getOrDefault(key, 0L) instanceof Long count)) {
      throw new IllegalArgumentException(key + " is not a count");
    }
    entries.put(key, count + amount);
    return this;
  }

  /** Writes the document to {@code file}, pretty-printed, ending with a newline. */
  public void write(Path file) throws IOException {
    try (Writer out = Files.newBufferedWriter(file)) {
      writeDocument(out);
    }
  }

  /** The document as {@link #write} writes it. */
  public String toJson() {
    StringWriter out = new StringWriter();
    try {
      writeDocument(out);
    } catch (IOException e) {
      throw new IllegalStateException("a StringWriter does no I/O", e);
    }
    return out.toString();
  }

  private SummaryJson putNew(String key, Object value) {
    if (entries.putIfAbsent(key, value) != null) {
      throw new IllegalArgumentException(key + " is already set");
    }
    return this;
  }

  private void writeDocument(Writer out) throws IOException {
    try (JsonGenerator json = JSON.createGenerator(out).useDefaultPrettyPrinter()) {
      writeTo(json);
      json.writeRaw('\n');
    }
  }

  private void writeTo(JsonGenerator json) throws IOException {
    json.writeStartObject();
    for (Map.Entry<String, Object> entry : entries.entrySet()) {
      json.writeFieldName(entry.getKey());
      Object value = entry.getValue();
      if (value instanceof SummaryJson section) {
        section.writeTo(json);
      } else if (value instanceof Long count) {
        json.writeNumber(count);
      } else if (value instanceof Double number) {
        json.writeNumber(number);
      } else {
        json.writeString((String) value);
      }
    }
    json.writeEndObject();
  }
}
