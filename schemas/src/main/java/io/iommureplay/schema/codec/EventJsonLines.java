package io.iommureplay.schema.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonFactoryBuilder;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import io.iommureplay.schema.IommuEvent;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.Flushable;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.avro.Schema;
import org.apache.avro.Schema.Field;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.specific.SpecificData;

/**
 * The project's JSON-lines form of events, for hand-written scenarios (SPEC: Importers). Each line
 * is one flat JSON object: the header fields of {@link IommuEvent}, then, at the same level, the
 * fields of the payload record its type carries ({@link EventTypes}), e.g.
 *
 * <pre>{"host":"h1","seq":7,"tsNs":1000,"cpu":0,"type":"MAP","domain":1,"device":"0000:00:04.0",
 *  "iova":4096,"size":4096,"paddr":8192,"prot":3}</pre>
 *
 * <p>The form is derived from the Avro schemas field by field, so new fields and types need no code
 * here. Reading: an omitted field takes its schema default; long and int fields take a JSON integer
 * or a hex string ({@code "0x1000"}); long fields also take values above 2^63-1 up to 2^64-1
 * (decimal or hex) as the unsigned 64-bit pattern, as kernel addresses are printed; int fields must
 * fit an int; enums take their symbol; nullable fields take null; arrays take JSON arrays. Writing
 * is deterministic: fields in schema order, null fields left out, numbers as plain (signed) JSON
 * integers.
 */
public final class EventJsonLines {

  private static final List<Field> HEADER =
      IommuEvent.getClassSchema().getFields().stream()
          .filter(field -> !field.name().equals("payload"))
          .toList();

  // Lines are separated by the writer itself, so that the last one ends with a newline too.
  private static final JsonFactory JSON =
      new JsonFactoryBuilder().rootValueSeparator((String) null).build();

  private EventJsonLines() {}

  /**
   * A reader of events from {@code in}, which it buffers if needed. Lines that are not valid events
   * go to {@code onError}, and reading goes on with the next line.
   */
  public static EventReader reader(Reader in, Consumer<? super LineError> onError) {
    return new EventReader(
        in instanceof BufferedReader buffered ? buffered : new BufferedReader(in), onError);
  }

  /** A writer of events to {@code out}, one line each. */
  public static EventWriter writer(Writer out) throws IOException {
    return new EventWriter(JSON.createGenerator(out));
  }

  /**
   * A line that is not a valid event.
   *
   * @param line its 1-based number
   * @param field the field at fault, or null when the line is not a JSON object at all
   * @param problem what is wrong
   * @param text the line as read
   */
  public record LineError(long line, String field, String problem, String text) {

    /**
     * One line for people, naming the line and the field, e.g. {@code line 3, field "size": ...}.
     */
    public String message() {
      return "line " + line + (field == null ? "" : ", field \"" + field + "\"") + ": " + problem;
    }
  }

  /** Reads events one line at a time. Not thread-safe. */
  public static final class EventReader implements Closeable {

    private final BufferedReader in;
    private final Consumer<? super LineError> onError;
    private long lineNumber;

    private EventReader(BufferedReader in, Consumer<? super LineError> onError) {
      this.in = in;
      this.onError = onError;
    }

    /**
     * The event of the next valid line, or null at the end of input. Blank lines are skipped; each
     * invalid line before it has been passed to the error handler.
     */
    public IommuEvent read() throws IOException {
      for (String text = in.readLine(); text != null; text = in.readLine()) {
        lineNumber++;
        if (text.isBlank()) {
          continue;
        }
        try {
          return parse(text);
        } catch (LineException e) {
          onError.accept(new LineError(lineNumber, e.field, e.getMessage(), text));
        }
      }
      return null;
    }

    /** Closes the underlying reader. */
    @Override
    public void close() throws IOException {
      in.close();
    }
  }

  /** Writes events, one line each. Not thread-safe. */
  public static final class EventWriter implements Closeable, Flushable {

    private final JsonGenerator json;

    private EventWriter(JsonGenerator json) {
      this.json = json;
    }

    /**
     * Writes the event as one line.
     *
     * @throws IllegalArgumentException when the payload does not fit the type, or a required field
     *     is null
     */
    public void write(IommuEvent event) throws IOException {
      if (!EventTypes.validatePayload(event)) {
        throw new IllegalArgumentException(
            "event "
                + event.getSeq()
                + ": payload "
                + (event.getPayload() == null
                    ? "null"
                    : event.getPayload().getClass().getSimpleName())
                + " does not fit type "
                + event.getType());
      }
      json.writeStartObject();
      writeFields(event, HEADER);
      if (event.getPayload() instanceof IndexedRecord payload) {
        writeFields(payload, payload.getSchema().getFields());
      }
      json.writeEndObject();
      json.writeRaw('\n');
    }

    private void writeFields(IndexedRecord record, List<Field> fields) throws IOException {
      for (Field field : fields) {
        Object value = record.get(field.pos());
        if (value != null) {
          json.writeFieldName(field.name());
          writeValue(value, field.schema());
        } else if (field.schema().getType() != Schema.Type.UNION) {
          throw new IllegalArgumentException("required field " + field.name() + " is null");
        }
      }
    }

    private void writeValue(Object value, Schema schema) throws IOException {
      switch (schema.getType()) {
        case LONG -> json.writeNumber((Long) value);
        case INT -> json.writeNumber((Integer) value);
        case BOOLEAN -> json.writeBoolean((Boolean) value);
        case STRING, ENUM -> json.writeString(value.toString());
        case ARRAY -> {
          json.writeStartArray();
          for (Object item : (Collection<?>) value) {
            writeValue(item, schema.getElementType());
          }
          json.writeEndArray();
        }
        case UNION -> writeValue(value, nonNullBranch(schema));
        default -> throw unsupported(schema);
      }
    }

    /** Flushes the underlying writer. */
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

  private static IommuEvent parse(String line) throws LineException {
    Map<String, Object> values = readObject(line);
    IommuEvent event = new IommuEvent();
    fill(event, HEADER, values);
    Schema payloadSchema = EventTypes.payloadSchema(event.getType());
    if (payloadSchema != null) {
      IndexedRecord payload = (IndexedRecord) SpecificData.get().newRecord(null, payloadSchema);
      fill(payload, payloadSchema.getFields(), values);
      event.setPayload(payload);
    }
    if (!values.isEmpty()) {
      throw new LineException(
          values.keySet().iterator().next(), "unknown field for type " + event.getType());
    }
    return event;
  }

  /**
   * Sets each field from the value of the same name, which it takes out of {@code values}, or its
   * default.
   */
  private static void fill(IndexedRecord record, List<Field> fields, Map<String, Object> values)
      throws LineException {
    for (Field field : fields) {
      Object value;
      if (values.containsKey(field.name())) {
        value = fromJson(values.remove(field.name()), field.schema(), field.name());
      } else if (field.hasDefaultValue()) {
        // Copied, because Avro caches one default object per field and the record may be changed
        // later.
        value =
            SpecificData.get().deepCopy(field.schema(), SpecificData.get().getDefaultValue(field));
      } else {
        throw new LineException(field.name(), "missing, and it has no default");
      }
      record.put(field.pos(), value);
    }
  }

  /**
   * The line's fields in order, as String, Long, BigInteger, BigDecimal, Boolean, null or List
   * values.
   */
  private static Map<String, Object> readObject(String line) throws LineException {
    try (JsonParser parser = JSON.createParser(line)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        throw new LineException(null, "not a JSON object");
      }
      Map<String, Object> values = new LinkedHashMap<>();
      for (String name = parser.nextFieldName(); name != null; name = parser.nextFieldName()) {
        parser.nextToken();
        if (values.containsKey(name)) {
          throw new LineException(name, "given twice");
        }
        values.put(name, readValue(parser, name));
      }
      if (parser.nextToken() != null) {
        throw new LineException(null, "more than one JSON value on the line");
      }
      return values;
    } catch (IOException e) {
      // A parser over a String does no I/O: every IOException is a syntax error.
      String problem =
          e instanceof JsonProcessingException syntax
              ? syntax.getOriginalMessage()
              : e.getMessage();
      throw new LineException(null, "not valid JSON: " + problem);
    }
  }

  private static Object readValue(JsonParser parser, String name)
      throws IOException, LineException {
    return switch (parser.currentToken()) {
      case VALUE_STRING -> parser.getText();
      case VALUE_NUMBER_INT ->
          parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER
              ? parser.getBigIntegerValue()
              : (Object) parser.getLongValue();
      case VALUE_NUMBER_FLOAT -> parser.getDecimalValue();
      case VALUE_TRUE -> Boolean.TRUE;
      case VALUE_FALSE -> Boolean.FALSE;
      case VALUE_NULL -> null;
      case START_ARRAY -> {
        List<Object> items = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
          items.add(readValue(parser, name));
        }
        yield items;
      }
      default -> throw new LineException(name, "nested objects are not part of the flat form");
    };
  }

  /** The Avro value of a JSON value for a field of {@code schema}. */
  private static Object fromJson(Object json, Schema schema, String field) throws LineException {
    return switch (schema.getType()) {
      case LONG -> toLong(json, field);
      case INT -> toInt(json, field);
      case BOOLEAN -> as(Boolean.class, json, "true or false", field);
      case STRING -> as(String.class, json, "a string", field);
      case ENUM -> toEnum(json, schema, field);
      case ARRAY -> toList(json, schema.getElementType(), field);
      case UNION -> json == null ? null : fromJson(json, nonNullBranch(schema), field);
      default -> throw unsupported(schema);
    };
  }

  private static <V> V as(Class<V> type, Object json, String expected, String field)
      throws LineException {
    if (type.isInstance(json)) {
      return type.cast(json);
    }
    throw wrongType(field, expected, json);
  }

  private static Object toEnum(Object json, Schema schema, String field) throws LineException {
    String symbol = as(String.class, json, "a symbol string", field);
    if (!schema.hasEnumSymbol(symbol)) {
      throw new LineException(
          field, "unknown symbol \"" + symbol + "\", expected one of " + schema.getEnumSymbols());
    }
    return SpecificData.get().createEnum(symbol, schema);
  }

  private static List<Object> toList(Object json, Schema itemSchema, String field)
      throws LineException {
    List<?> items = as(List.class, json, "an array", field);
    List<Object> values = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      values.add(fromJson(items.get(i), itemSchema, field + "[" + i + "]"));
    }
    return values;
  }

  private static int toInt(Object json, String field) throws LineException {
    long value = toLong(json, field);
    if (value != (int) value) {
      throw new LineException(field, value + " is out of the int range");
    }
    return (int) value;
  }

  private static long toLong(Object json, String field) throws LineException {
    if (json instanceof Long value) {
      return value;
    }
    if (json instanceof BigInteger value) {
      if (value.signum() > 0 && value.bitLength() <= Long.SIZE) {
        return value.longValue(); // above Long.MAX_VALUE: the unsigned 64-bit pattern
      }
      throw new LineException(field, value + " is out of the 64-bit range");
    }
    if (json instanceof String text && (text.startsWith("0x") || text.startsWith("0X"))) {
      try {
        return Long.parseUnsignedLong(text.substring(2), 16);
      } catch (NumberFormatException e) {
        throw new LineException(field, "\"" + text + "\" is not a 64-bit hex number");
      }
    }
    throw wrongType(field, "an integer or a \"0x\" hex string", json);
  }

  private static LineException wrongType(String field, String expected, Object json) {
    String found;
    if (json == null) {
      found = "null";
    } else if (json instanceof String text) {
      found = "the string \"" + text + "\"";
    } else if (json instanceof List) {
      found = "an array";
    } else {
      found = json.toString();
    }
    return new LineException(field, "expected " + expected + ", found " + found);
  }

  /** The other branch of a ["null", T] union, the only unions the form has. */
  private static Schema nonNullBranch(Schema union) {
    List<Schema> branches = union.getTypes();
    if (branches.size() == 2 && branches.get(0).getType() == Schema.Type.NULL) {
      return branches.get(1);
    }
    if (branches.size() == 2 && branches.get(1).getType() == Schema.Type.NULL) {
      return branches.get(0);
    }
    throw unsupported(union);
  }

  private static IllegalStateException unsupported(Schema schema) {
    return new IllegalStateException(
        "the JSON-lines form has no encoding for Avro schema " + schema);
  }

  /** A line that is not a valid event; cheap, since bad lines may be many. */
  private static final class LineException extends Exception {

    private final String field;

    LineException(String field, String problem) {
      super(problem, null, false, false);
      this.field = field;
    }
  }
}
