package io.iommureplay.generate;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.iommureplay.schema.FindingType;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The label file of a generated trace: one JSON object per injected bug and line, fields in this
 * order (optional ones left out when they have no value):
 *
 * <pre>{"type":"PHYS_REUSE_IN_WINDOW","host":"host0","domain":2,"device":"0000:03:00.0",
 *  "iovaStart":4294963200,"iovaEnd":4294967296,"firstNs":1000012345,"lastNs":1000013345,
 *  "seqs":[5012,5020],"variant":"cross-device","otherDomain":3,"otherDevice":"0000:02:00.0",
 *  "physStart":4563402752,"physEnd":4563406848,"also":[]}</pre>
 *
 * <ul>
 *   <li>{@code type}: a finding type (SPEC "Contract → Finding types").
 *   <li>{@code host}, {@code domain}, {@code device}: where; for use-after-unmap bugs the holder of
 *       the stale translation. {@code device} may be null.
 *   <li>{@code iovaStart}, {@code iovaEnd} (exclusive): the IOVA range concerned; for allocator
 *       bugs the allocation window (first usable pfn to the request's limit).
 *   <li>{@code firstNs}, {@code lastNs}: times of the first and last event of {@code seqs}.
 *   <li>{@code seqs}: the per-host sequence numbers of the events that make the bug up, ascending.
 *   <li>{@code variant}: which form of the bug (see {@link WorkloadGenerator}); optional.
 *   <li>{@code otherDomain}, {@code otherDevice}: the second party, when there is one.
 *   <li>{@code physStart}, {@code physEnd}: the physical range, when one is concerned.
 *   <li>{@code also}: other finding types this same instance is too by SPEC's definitions (always
 *       written, often empty).
 * </ul>
 *
 * Numbers are JSON integers (bytes, nanoseconds). Writing is deterministic: the same labels give
 * the same bytes. Readers accept the fields in any order and ignore unknown ones.
 */
public final class Labels {
  /** Conventional file name beside a generated trace. */
  public static final String FILE_NAME = "labels.jsonl";

  private static final JsonFactory JSON =
      new JsonFactoryBuilder().rootValueSeparator((String) null).build();

  /** Labels in file order: by host, then time, then type, then first sequence number. */
  public static final Comparator<Label> ORDER =
      Comparator.comparing(Label::host)
          .thenComparingLong(Label::firstNs)
          .thenComparing(Label::type)
          .thenComparingLong(l -> l.seqs().get(0));

  private Labels() {}

  /** Writes {@code labels} to {@code out}, one line each, in the order given. */
  public static void write(Writer out, Iterable<Label> labels) throws IOException {
    for (Label label : labels) {
      out.write(toJson(label));
      out.write('\n');
    }
    out.flush();
  }

  /** Writes {@code labels} sorted by {@link #ORDER} to {@code file}. */
  public static void write(Path file, List<Label> labels) throws IOException {
    List<Label> sorted = new ArrayList<>(labels);
    sorted.sort(ORDER);
    try (Writer out = Files.newBufferedWriter(file)) {
      write(out, sorted);
    }
  }

  /** One label as a line of JSON (without the newline). */
  public static String toJson(Label label) {
    StringWriter text = new StringWriter(256);
    try (JsonGenerator json = JSON.createGenerator(text)) {
      json.writeStartObject();
      json.writeStringField("type", label.type().name());
      json.writeStringField("host", label.host());
      json.writeNumberField("domain", label.domain());
      json.writeStringField("device", label.device());
      json.writeNumberField("iovaStart", label.iovaStart());
      json.writeNumberField("iovaEnd", label.iovaEnd());
      json.writeNumberField("firstNs", label.firstNs());
      json.writeNumberField("lastNs", label.lastNs());
      json.writeArrayFieldStart("seqs");
      for (long seq : label.seqs()) json.writeNumber(seq);
      json.writeEndArray();
      if (label.variant() != null) json.writeStringField("variant", label.variant());
      if (label.otherDomain() != null) json.writeNumberField("otherDomain", label.otherDomain());
      if (label.otherDevice() != null) json.writeStringField("otherDevice", label.otherDevice());
      if (label.physStart() != null) {
        json.writeNumberField("physStart", label.physStart());
        json.writeNumberField("physEnd", label.physEnd());
      }
      json.writeArrayFieldStart("also");
      for (FindingType type : label.also()) json.writeString(type.name());
      json.writeEndArray();
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return text.toString();
  }

  /** The labels of a label file, in file order. */
  public static List<Label> read(Path file) throws IOException {
    try (Reader in = Files.newBufferedReader(file)) {
      return read(in);
    }
  }

  /** The labels of {@code in}, one per non-blank line. */
  public static List<Label> read(Reader in) throws IOException {
    BufferedReader lines = in instanceof BufferedReader b ? b : new BufferedReader(in);
    List<Label> labels = new ArrayList<>();
    long number = 0;
    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
      number++;
      if (line.isBlank()) continue;
      try {
        labels.add(parse(line));
      } catch (IOException | RuntimeException e) {
        throw new IOException("label line " + number + ": " + e.getMessage(), e);
      }
    }
    return labels;
  }

  /** One label from its JSON line. */
  public static Label parse(String line) throws IOException {
    FindingType type = null;
    String host = null;
    String device = null;
    String variant = null;
    String otherDevice = null;
    long domain = -1;
    long iovaStart = 0;
    long iovaEnd = 0;
    long firstNs = 0;
    long lastNs = 0;
    Long otherDomain = null;
    Long physStart = null;
    Long physEnd = null;
    List<Long> seqs = new ArrayList<>();
    List<FindingType> also = new ArrayList<>();
    try (JsonParser json = JSON.createParser(line)) {
      if (json.nextToken() != JsonToken.START_OBJECT) throw new IOException("not a JSON object");
      for (JsonToken t = json.nextToken(); t != JsonToken.END_OBJECT; t = json.nextToken()) {
        if (t != JsonToken.FIELD_NAME) throw new IOException("expected a field name");
        String field = json.currentName();
        JsonToken value = json.nextToken();
        boolean isNull = value == JsonToken.VALUE_NULL;
        switch (field) {
          case "type" -> type = FindingType.valueOf(json.getText());
          case "host" -> host = json.getText();
          case "domain" -> domain = json.getLongValue();
          case "device" -> device = isNull ? null : json.getText();
          case "iovaStart" -> iovaStart = json.getLongValue();
          case "iovaEnd" -> iovaEnd = json.getLongValue();
          case "firstNs" -> firstNs = json.getLongValue();
          case "lastNs" -> lastNs = json.getLongValue();
          case "seqs" -> {
            while (json.nextToken() != JsonToken.END_ARRAY) seqs.add(json.getLongValue());
          }
          case "variant" -> variant = isNull ? null : json.getText();
          case "otherDomain" -> otherDomain = isNull ? null : json.getLongValue();
          case "otherDevice" -> otherDevice = isNull ? null : json.getText();
          case "physStart" -> physStart = isNull ? null : json.getLongValue();
          case "physEnd" -> physEnd = isNull ? null : json.getLongValue();
          case "also" -> {
            while (json.nextToken() != JsonToken.END_ARRAY) {
              also.add(FindingType.valueOf(json.getText()));
            }
          }
          default -> json.skipChildren();
        }
      }
    }
    if (type == null || host == null) throw new IOException("type and host are required");
    return new Label(
        type,
        host,
        domain,
        device,
        iovaStart,
        iovaEnd,
        firstNs,
        lastNs,
        seqs,
        variant,
        otherDomain,
        otherDevice,
        physStart,
        physEnd,
        also);
  }
}
