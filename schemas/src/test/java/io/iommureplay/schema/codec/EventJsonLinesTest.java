package io.iommureplay.schema.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.codec.EventJsonLines.LineError;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.Schema.Field;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.specific.SpecificData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class EventJsonLinesTest {

  private static final String SPEC_EXAMPLE =
      "{\"host\":\"h1\",\"seq\":7,\"tsNs\":1000,\"cpu\":0,\"type\":\"MAP\","
          + "\"domain\":1,\"device\":\"0000:00:04.0\",\"iova\":4096,\"size\":4096,\"paddr\":8192,\"prot\":3}";

  private final List<LineError> errors = new ArrayList<>();

  @ParameterizedTest
  @EnumSource(EventType.class)
  void payloadFieldsDoNotCollideWithHeaderFields(EventType type) {
    Schema payload = EventTypes.payloadSchema(type);
    Set<String> header =
        IommuEvent.getClassSchema().getFields().stream()
            .map(Field::name)
            .collect(Collectors.toSet());

    if (payload != null) {
      assertThat(payload.getFields()).extracting(Field::name).doesNotContainAnyElementsOf(header);
    }
  }

  @ParameterizedTest
  @EnumSource(EventType.class)
  void theSampleSetsEveryFieldToANonDefaultValue(EventType type) {
    IommuEvent event = SampleEvents.everyFieldSet(type);

    assertNoDefaults(event, "payload");
    if (event.getPayload() instanceof IndexedRecord payload) {
      assertNoDefaults(payload, "");
    }
  }

  @ParameterizedTest
  @EnumSource(EventType.class)
  void eventsOfEveryTypeRoundTrip(EventType type) throws IOException {
    List<IommuEvent> events =
        List.of(SampleEvents.everyFieldSet(type), SampleEvents.nullableFieldsNull(type));

    assertThat(read(write(events))).isEqualTo(events);
    assertThat(errors).isEmpty();
  }

  @Test
  void omittedFieldsTakeTheirDefaultsAndTheWriterWritesEveryNonNullFieldInSchemaOrder()
      throws IOException {
    IommuEvent event = read(SPEC_EXAMPLE).get(0);

    assertThat(event.getSource()).isEmpty();
    assertThat(event.getAttribution()).isEqualTo(Attribution.NOT_NEEDED);
    assertThat(event.getPayload()).isEqualTo(new Mapping(4096L, 4096L, 8192L, 3, null));
    assertThat(write(List.of(event)))
        .isEqualTo(
            "{\"host\":\"h1\",\"seq\":7,\"tsNs\":1000,\"cpu\":0,\"type\":\"MAP\","
                + "\"source\":\"\",\"domain\":1,\"device\":\"0000:00:04.0\",\"attribution\":\"NOT_NEEDED\","
                + "\"iova\":4096,\"size\":4096,\"paddr\":8192,\"prot\":3}\n");
  }

  @Test
  void integersMayBeHexStringsAndUnsigned64BitValues() throws IOException {
    IommuEvent event =
        read("{\"host\":\"h1\",\"seq\":\"0x10\",\"tsNs\":1,\"cpu\":\"0x1\",\"type\":\"IOTLB_FLUSH\","
                + "\"scope\":\"PAGE\",\"iova\":\"0xFFFFFFFFFFFF0000\",\"size\":18446744073709486080,\"addressMask\":\"0x4\","
                + "\"descriptor\":[\"0x23\",-1]}")
            .get(0);

    assertThat(errors).isEmpty();
    assertThat(event.getSeq()).isEqualTo(16);
    assertThat(event.getCpu()).isEqualTo(1);
    assertThat(event.getPayload())
        .isEqualTo(
            IotlbInvalidation.newBuilder()
                .setScope(FlushScope.PAGE)
                .setIova(0xffff_ffff_ffff_0000L)
                .setSize(0xffff_ffff_ffff_0000L)
                .setAddressMask(4)
                .setTrigger(FlushTrigger.UNKNOWN)
                .setDescriptor(List.of(0x23L, -1L))
                .build());
  }

  @Test
  void badLinesAreReportedWithLineAndFieldAndReadingGoesOn() throws IOException {
    String good = SPEC_EXAMPLE;
    String input =
        String.join(
            "\n",
            good,
            good.replace("\"prot\":3", "\"prot\":3,\"color\":\"red\""),
            good.replace("\"size\":4096", "\"size\":true"),
            "",
            good.replace("\"paddr\":8192,", ""),
            good.replace("\"MAP\"", "\"MAPP\""),
            good.replace("\"iova\":4096", "\"iova\":\"0x10g0\""),
            good.replace("\"cpu\":0", "\"cpu\":4294967296"),
            good.replace("\"prot\":3}", "\"prot\":3"),
            good.replace("\"device\":\"0000:00:04.0\"", "\"device\":{\"bus\":0}"),
            good.replace("\"host\":\"h1\"", "\"host\":null"),
            good.replace("\"seq\":7", "\"seq\":7.5"),
            good.replace("\"seq\":7", "\"seq\":7,\"seq\":8"),
            "[1,2]",
            good);

    List<IommuEvent> events = read(input);

    assertThat(events).hasSize(2);
    assertThat(errors)
        .extracting(LineError::line, LineError::field)
        .containsExactly(
            tuple(2L, "color"),
            tuple(3L, "size"),
            tuple(5L, "paddr"),
            tuple(6L, "type"),
            tuple(7L, "iova"),
            tuple(8L, "cpu"),
            tuple(9L, null),
            tuple(10L, "device"),
            tuple(11L, "host"),
            tuple(12L, "seq"),
            tuple(13L, "seq"),
            tuple(14L, null));
    assertThat(errors)
        .extracting(LineError::message)
        .containsExactly(
            "line 2, field \"color\": unknown field for type MAP",
            "line 3, field \"size\": expected an integer or a \"0x\" hex string, found true",
            "line 5, field \"paddr\": missing, and it has no default",
            "line 6, field \"type\": unknown symbol \"MAPP\", expected one of "
                + List.of(EventType.values()),
            "line 7, field \"iova\": \"0x10g0\" is not a 64-bit hex number",
            "line 8, field \"cpu\": 4294967296 is out of the int range",
            errors.get(6).message(),
            "line 10, field \"device\": nested objects are not part of the flat form",
            "line 11, field \"host\": expected a string, found null",
            "line 12, field \"seq\": expected an integer or a \"0x\" hex string, found 7.5",
            "line 13, field \"seq\": given twice",
            "line 14: not a JSON object");
    assertThat(errors.get(6).message()).startsWith("line 9: not valid JSON: ");
    assertThat(errors.get(0).text()).contains("\"color\"");
  }

  @Test
  void theWriterRefusesAPayloadThatDoesNotFitTheType() {
    IommuEvent event = SampleEvents.everyFieldSet(EventType.MAP);
    event.setType(EventType.UNMAP);

    assertThatThrownBy(() -> write(List.of(event)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("payload Mapping does not fit type UNMAP");
  }

  private List<IommuEvent> read(String text) throws IOException {
    List<IommuEvent> events = new ArrayList<>();
    try (EventJsonLines.EventReader reader =
        EventJsonLines.reader(new StringReader(text), errors::add)) {
      for (IommuEvent event = reader.read(); event != null; event = reader.read()) {
        events.add(event);
      }
    }
    return events;
  }

  private static String write(Collection<IommuEvent> events) throws IOException {
    StringWriter out = new StringWriter();
    try (EventJsonLines.EventWriter writer = EventJsonLines.writer(out)) {
      for (IommuEvent event : events) {
        writer.write(event);
      }
    }
    return out.toString();
  }

  private static void assertNoDefaults(IndexedRecord record, String except) {
    for (Field field : record.getSchema().getFields()) {
      if (field.hasDefaultValue() && !field.name().equals(except)) {
        Object fallback = SpecificData.get().getDefaultValue(field);
        assertThat(SpecificData.get().compare(record.get(field.pos()), fallback, field.schema()))
            .as("%s.%s differs from its default", record.getSchema().getName(), field.name())
            .isNotZero();
      }
    }
  }
}
