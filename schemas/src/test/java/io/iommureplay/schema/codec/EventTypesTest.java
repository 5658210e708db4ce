package io.iommureplay.schema.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.DmaApiCall;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.Unmapping;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class EventTypesTest {

  private static final Set<String> PAYLOAD_UNION_RECORDS =
      IommuEvent.getClassSchema().getField("payload").schema().getTypes().stream()
          .filter(branch -> branch.getType() == Schema.Type.RECORD)
          .map(Schema::getFullName)
          .collect(Collectors.toSet());

  @ParameterizedTest
  @EnumSource(EventType.class)
  void everyTypeButUnknownHasAPayloadFromTheUnion(EventType type) {
    Schema schema = EventTypes.payloadSchema(type);

    if (type == EventType.UNKNOWN) {
      assertThat(schema).isNull();
    } else {
      assertThat(schema).as("payload of %s", type).isNotNull();
      assertThat(PAYLOAD_UNION_RECORDS).contains(schema.getFullName());
    }
  }

  @Test
  void everyRecordOfTheUnionBelongsToSomeType() {
    Set<String> bound =
        Arrays.stream(EventType.values())
            .map(EventTypes::payloadSchema)
            .filter(Objects::nonNull)
            .map(Schema::getFullName)
            .collect(Collectors.toSet());

    assertThat(bound).isEqualTo(PAYLOAD_UNION_RECORDS);
  }

  @Test
  void theSpecExamplesMapAsDocumented() {
    assertThat(EventTypes.payloadSchema(EventType.MAP)).isEqualTo(Mapping.getClassSchema());
    assertThat(EventTypes.payloadSchema(EventType.UNMAP)).isEqualTo(Unmapping.getClassSchema());
    Arrays.stream(EventType.values())
        .filter(type -> type.name().startsWith("DMA_"))
        .forEach(
            type ->
                assertThat(EventTypes.payloadSchema(type)).isEqualTo(DmaApiCall.getClassSchema()));
  }

  @ParameterizedTest
  @EnumSource(EventType.class)
  void theSamplePayloadOfEachTypeFits(EventType type) {
    assertThat(EventTypes.validatePayload(SampleEvents.everyFieldSet(type))).isTrue();
  }

  @Test
  void aPayloadOfAnotherTypeOrAMissingOneDoesNotFit() {
    IommuEvent map = SampleEvents.everyFieldSet(EventType.MAP);

    map.setPayload(SampleEvents.everyFieldSet(EventType.UNMAP).getPayload());
    assertThat(EventTypes.validatePayload(map)).isFalse();

    map.setPayload(null);
    assertThat(EventTypes.validatePayload(map)).isFalse();

    IommuEvent unknown = SampleEvents.everyFieldSet(EventType.UNKNOWN);
    unknown.setPayload(SampleEvents.everyFieldSet(EventType.MAP).getPayload());
    assertThat(EventTypes.validatePayload(unknown)).isFalse();
  }
}
