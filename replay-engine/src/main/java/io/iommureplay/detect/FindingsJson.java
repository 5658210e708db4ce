package io.iommureplay.detect;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.Flushable;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.AvroRuntimeException;

/**
 * {@code findings.jsonl}, as SPEC "Contract" defines it: one JSON object per finding and line, with
 * the fields {@code type, severity, host, domain, device, iovaStart, iovaEnd, physStart, physEnd,
 * firstNs, lastNs, evidence, instances, message, otherDomain, otherDevice} in that order, e.g.
 *
 * <pre>{"type":"PHYS_REUSE_IN_WINDOW","severity":"HIGH","host":"h1","domain":1,
 *  "device":"0000:00:04.0","iovaStart":4096,"iovaEnd":8192,"physStart":65536,"physEnd":69632,
 *  "firstNs":1000,"lastNs":2000,"evidence":[7,9],"instances":2,"message":"...",
 *  "otherDomain":2,"otherDevice":"0000:00:05.0"}</pre>
 *
 * <p>{@code device} is always written, null when unknown; the physical range only when known, the
 * second party only when there is one. Addresses are written as unsigned 64-bit integers, every
 * other number as a signed one.
 */
public final class FindingsJson {
  public static final String FILE_NAME = "findings.jsonl";

  // Lines are ended by the writer itself, so that the last one ends with a newline too.
  private static final JsonFactory JSON =
      new JsonFactoryBuilder().rootValueSeparator((String) null).build();
  private static final BigInteger TWO_TO_THE_64 = BigInteger.ONE.shiftLeft(Long.SIZE);

  private FindingsJson() {}

  /** A writer of findings to {@code out}, one line each. */
  public static FindingWriter writer(Writer out) throws IOException {
    return new FindingWriter(JSON.createGenerator(out));
  }

  /** The findings of a {@code findings.jsonl} file, in file order. */
  public static List<Finding> read(Path file) throws IOException {
    try (Reader in = Files.newBufferedReader(file)) {
      return read(in);
    }
  }

  /**
   * The findings of {@code in}, one per non-blank line, in order. Fields may come in any order;
   * omitted optional ones take their schema defaults.
   *
   * @throws MalformedFindingException at the first line that is not a finding
   */
  public static List<Finding> read(Reader in) throws IOException {
    BufferedReader lines =
        in instanceof BufferedReader buffered ? buffered : new BufferedReader(in);
    List<Finding> findings = new ArrayList<>();
    long lineNumber = 0;
    for (String line = lines.readLine(); line != null; line = lines.readLine()) {
      lineNumber++;
      if (!line.isBlank()) {
        findings.add(parse(line, lineNumber));
      }
    }
    return findings;
  }

  private static Finding parse(String line, long lineNumber) throws MalformedFindingException {
    // A parser over a String does no I/O: each IOException is a problem with the line.
    Finding.Builder finding = Finding.newBuilder();
    String field = null; // the one being read, for the error message
    try (JsonParser json = JSON.createParser(line)) {
      if (json.nextToken() != JsonToken.START_OBJECT) {
        throw new IOException("not a JSON object");
      }
      for (field = json.nextFieldName(); field != null; field = json.nextFieldName()) {
        json.nextToken();
        switch (field) {
          case "type" -> finding.setType(symbol(json, FindingType.class));
          case "severity" -> finding.setSeverity(symbol(json, Severity.class));
          case "host" -> finding.setHost(string(json));
          case "domain" -> finding.setDomain(integer(json));
          case "device" -> finding.setDevice(isNull(json) ? null : string(json));
          case "iovaStart" -> finding.setIovaStart(address(json));
          case "iovaEnd" -> finding.setIovaEnd(address(json));
          case "physStart" -> finding.setPhysStart(isNull(json) ? null : address(json));
          case "physEnd" -> finding.setPhysEnd(isNull(json) ? null : address(json));
          case "firstNs" -> finding.setFirstNs(integer(json));
          case "lastNs" -> finding.setLastNs(integer(json));
          case "evidence" -> finding.setEvidence(integers(json));
          case "instances" -> finding.setInstances(integer(json));
          case "message" -> finding.setMessage(string(json));
          case "otherDomain" -> finding.setOtherDomain(isNull(json) ? null : integer(json));
          case "otherDevice" -> finding.setOtherDevice(isNull(json) ? null : string(json));
          default -> throw new IOException("unknown field");
        }
      }
      if (json.nextToken() != null) {
        throw new IOException("more than one JSON value on the line");
      }
      return finding.build();
    } catch (IOException | AvroRuntimeException e) {
      throw new MalformedFindingException(
          lineNumber, (field == null ? "" : "field \"" + field + "\": ") + e.getMessage());
    }
  }

  private static boolean isNull(JsonParser json) {
    return json.currentToken() == JsonToken.VALUE_NULL;
  }

  private static String string(JsonParser json) throws IOException {
    expect(json, JsonToken.VALUE_STRING);
    return json.getText();
  }

  private static <E extends Enum<E>> E symbol(JsonParser json, Class<E> type) throws IOException {
    String name = string(json);
    try {
      return Enum.valueOf(type, name);
    } catch (IllegalArgumentException e) {
      throw new IOException("no " + type.getSimpleName() + " " + name);
    }
  }

  private static long integer(JsonParser json) throws IOException {
    expect(json, JsonToken.VALUE_NUMBER_INT);
    return json.getLongValue();
  }

  /** An unsigned 64-bit integer, as its bit pattern. */
  private static long address(JsonParser json) throws IOException {
    expect(json, JsonToken.VALUE_NUMBER_INT);
    BigInteger value = json.getBigIntegerValue();
    if (value.signum() < 0 || value.compareTo(TWO_TO_THE_64) >= 0) {
      throw new IOException(value + " is not a 64-bit address");
    }
    return value.longValue();
  }

  private static List<Long> integers(JsonParser json) throws IOException {
    expect(json, JsonToken.START_ARRAY);
    List<Long> values = new ArrayList<>();
    while (json.nextToken() != JsonToken.END_ARRAY) {
      values.add(integer(json));
    }
    return values;
  }

  private static void expect(JsonParser json, JsonToken token) throws IOException {
    if (json.currentToken() != token) {
      throw new IOException("expected " + token + ", found " + json.currentToken());
    }
  }

  /** Writes findings, one line each. Not thread-safe. */
  public static final class FindingWriter implements Closeable, Flushable {
    private final JsonGenerator json;

    private FindingWriter(JsonGenerator json) {
      this.json = json;
    }

    public void write(Finding finding) throws IOException {
      json.writeStartObject();
      json.writeStringField("type", finding.getType().name());
      json.writeStringField("severity", finding.getSeverity().name());
      json.writeStringField("host", finding.getHost());
      json.writeNumberField("domain", finding.getDomain());
      json.writeStringField("device", finding.getDevice());
      writeAddress("iovaStart", finding.getIovaStart());
      writeAddress("iovaEnd", finding.getIovaEnd());
      if (finding.getPhysStart() != null || finding.getPhysEnd() != null) {
        writeAddress("physStart", finding.getPhysStart());
        writeAddress("physEnd", finding.getPhysEnd());
      }
      json.writeNumberField("firstNs", finding.getFirstNs());
      json.writeNumberField("lastNs", finding.getLastNs());
      json.writeArrayFieldStart("evidence");
      for (long seq : finding.getEvidence()) {
        json.writeNumber(seq);
      }
      json.writeEndArray();
      json.writeNumberField("instances", finding.getInstances());
      json.writeStringField("message", finding.getMessage());
      if (finding.getOtherDomain() != null || finding.getOtherDevice() != null) {
        json.writeFieldName("otherDomain");
        if (finding.getOtherDomain() == null) {
          json.writeNull();
        } else {
          json.writeNumber(finding.getOtherDomain());
        }
        json.writeStringField("otherDevice", finding.getOtherDevice());
      }
      json.writeEndObject();
      json.writeRaw('\n');
    }

    private void writeAddress(String field, Long address) throws IOException {
      json.writeFieldName(field);
      if (address == null) {
        json.writeNull();
      } else {
        json.writeNumber(Long.toUnsignedString(address));
      }
    }

    @Override
    public void flush() throws IOException {
      json.flush();
    }

    /** Flushes and closes the underlying writer. */
    @Override
    public void close() throws IOException {
      json.close();
    }
  }

  /** A line of a findings file that is not a finding. */
  public static final class MalformedFindingException extends IOException {
    private final long lineNumber;

    MalformedFindingException(long lineNumber, String problem) {
      super("findings line " + lineNumber + ": " + problem);
      this.lineNumber = lineNumber;
    }

    /** The 1-based number of the line. */
    public long lineNumber() {
      return lineNumber;
    }
  }
}
