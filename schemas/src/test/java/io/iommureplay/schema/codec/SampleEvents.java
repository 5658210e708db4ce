package io.iommureplay.schema.codec;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.Schema.Field;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.specific.SpecificData;

/**
 * Events of every type built from the schemas, so that a new payload field or event type is covered
 * by the codec tests without editing them.
 */
final class SampleEvents {

  /**
   * A kernel-style address: negative as a Java long and beyond 2^53, so precision and sign are both
   * tested.
   */
  static final long KERNEL_ADDRESS = 0xffff_8880_1234_5000L;

  private SampleEvents() {}

  /**
   * An event of {@code type} whose every header and payload field holds a value other than its
   * default.
   */
  static IommuEvent everyFieldSet(EventType type) {
    return event(type, "0000:00:04.0", payload(type, false));
  }

  /** An event of {@code type} whose nullable fields are all null and other fields are set. */
  static IommuEvent nullableFieldsNull(EventType type) {
    return event(type, null, payload(type, true));
  }

  /** {@link #everyFieldSet} for each event type, in symbol order. */
  static List<IommuEvent> everyType() {
    return List.of(EventType.values()).stream().map(SampleEvents::everyFieldSet).toList();
  }

  private static IommuEvent event(EventType type, String device, Object payload) {
    return IommuEvent.newBuilder()
        .setHost("host-a")
        .setSeq(1_000_000_007L)
        .setTsNs(1_700_000_000_123_456_789L)
        .setCpu(3)
        .setType(type)
        .setSource("src-" + type)
        .setDomain(42)
        .setDevice(device)
        .setAttribution(Attribution.TRACE)
        .setPayload(payload)
        .build();
  }

  private static Object payload(EventType type, boolean nullableAsNull) {
    Schema schema = EventTypes.payloadSchema(type);
    if (schema == null) {
      return null;
    }
    IndexedRecord payload = (IndexedRecord) SpecificData.get().newRecord(null, schema);
    for (Field field : schema.getFields()) {
      boolean nullable = field.schema().getType() == Schema.Type.UNION;
      payload.put(
          field.pos(), nullable && nullableAsNull ? null : nonDefault(field, field.schema()));
    }
    return payload;
  }

  /**
   * A value unlike the field's default; varied by field position so that fields cannot be swapped
   * unseen.
   */
  private static Object nonDefault(Field field, Schema schema) {
    return switch (schema.getType()) {
      case LONG -> KERNEL_ADDRESS + field.pos();
      case INT -> 100 + field.pos();
      case BOOLEAN -> !Boolean.TRUE.equals(field.defaultVal());
      case STRING -> "value-of-" + field.name();
      case ENUM -> {
        List<String> symbols = schema.getEnumSymbols();
        String last = symbols.get(symbols.size() - 1);
        String symbol =
            field.hasDefaultValue() && last.equals(field.defaultVal()) ? symbols.get(0) : last;
        yield SpecificData.get().createEnum(symbol, schema);
      }
      case ARRAY -> List.of(1L, KERNEL_ADDRESS, -1L);
      case UNION -> nonDefault(field, schema.getTypes().get(1));
      default -> throw new IllegalArgumentException("no sample for " + schema);
    };
  }
}
