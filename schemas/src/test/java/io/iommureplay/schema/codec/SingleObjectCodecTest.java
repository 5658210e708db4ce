package io.iommureplay.schema.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.schema.Alert;
import io.iommureplay.schema.DeadLetter;
import io.iommureplay.schema.DeadLetterReason;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingSummary;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Severity;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.SchemaNormalization;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SingleObjectCodecTest {

  static Finding finding() {
    return Finding.newBuilder()
        .setType(FindingType.DEVICE_ACCESS_AFTER_UNMAP)
        .setSeverity(Severity.HIGH)
        .setHost("host-a")
        .setDomain(3)
        .setDevice("0000:00:04.0")
        .setIovaStart(0x1000)
        .setIovaEnd(0x3000)
        .setPhysStart(0x8000L)
        .setFirstNs(10)
        .setLastNs(20)
        .setEvidence(List.of(4L, 9L))
        .setMessage("DMA read of 0x1000 after its unmap at seq 4")
        .build();
  }

  @ParameterizedTest
  @EnumSource(EventType.class)
  void eventsOfEveryTypeRoundTrip(EventType type) throws Exception {
    for (IommuEvent event :
        List.of(SampleEvents.everyFieldSet(type), SampleEvents.nullableFieldsNull(type))) {
      assertThat(SingleObjectCodec.EVENTS.decode(SingleObjectCodec.EVENTS.encode(event)))
          .isEqualTo(event);
    }
  }

  @Test
  void theOtherRecordTypesRoundTrip() throws Exception {
    Finding finding = finding();
    FindingSummary summary =
        new FindingSummary(
            0L, 1_000L, "host-a", 3L, FindingType.MISSING_FLUSH, Severity.MEDIUM, 2L, 5L);
    Alert alert =
        new Alert(
            FindingType.WRITER_RACE, Severity.CRITICAL, "host-a", 3L, null, 0L, 1L, 2L, 1L, "race");
    DeadLetter deadLetter =
        new DeadLetter(
            DeadLetterReason.ZERO_SIZE,
            "size 0",
            "events/0@12",
            "host-a",
            ByteBuffer.wrap(new byte[] {1, 2, 3}));

    assertThat(SingleObjectCodec.FINDINGS.decode(SingleObjectCodec.FINDINGS.encode(finding)))
        .isEqualTo(finding);
    assertThat(SingleObjectCodec.SUMMARIES.decode(SingleObjectCodec.SUMMARIES.encode(summary)))
        .isEqualTo(summary);
    assertThat(SingleObjectCodec.ALERTS.decode(SingleObjectCodec.ALERTS.encode(alert)))
        .isEqualTo(alert);
    assertThat(
            SingleObjectCodec.DEAD_LETTERS.decode(
                SingleObjectCodec.DEAD_LETTERS.encode(deadLetter)))
        .isEqualTo(deadLetter);
  }

  @Test
  void messagesCarryTheMarkerAndTheSchemaFingerprint() {
    byte[] message = SingleObjectCodec.EVENTS.encode(SampleEvents.everyFieldSet(EventType.MAP));

    assertThat(Arrays.copyOf(message, 2)).containsExactly(0xC3, 0x01);
    assertThat(ByteBuffer.wrap(message, 2, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong())
        .isEqualTo(SchemaNormalization.parsingFingerprint64(IommuEvent.getClassSchema()));
  }

  @Test
  void decodingReusesTheGivenRecord() throws Exception {
    IommuEvent reuse = new IommuEvent();
    IommuEvent event = SampleEvents.everyFieldSet(EventType.UNMAP);

    IommuEvent decoded =
        SingleObjectCodec.EVENTS.decode(SingleObjectCodec.EVENTS.encode(event), reuse);

    assertThat(decoded).isSameAs(reuse).isEqualTo(event);
  }

  @Test
  void anotherRecordTypesMessageHasAnUnknownFingerprint() {
    byte[] findingMessage = SingleObjectCodec.FINDINGS.encode(finding());

    assertThatThrownBy(() -> SingleObjectCodec.EVENTS.decode(findingMessage))
        .isInstanceOfSatisfying(
            UnknownFingerprintException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(DeadLetterReason.UNKNOWN_SCHEMA_FINGERPRINT);
              assertThat(e.fingerprint())
                  .isEqualTo(SchemaNormalization.parsingFingerprint64(Finding.getClassSchema()));
              assertThat(e.getMessage())
                  .contains(String.format("%016x", e.fingerprint()))
                  .contains("IommuEvent");
            });
  }

  @Test
  void badMarkerIsMalformed() {
    byte[] message = SingleObjectCodec.EVENTS.encode(SampleEvents.everyFieldSet(EventType.MAP));
    message[0] = '{';

    assertMalformed(message, "header");
  }

  @Test
  void tooShortForTheHeaderIsMalformed() {
    assertMalformed(new byte[] {(byte) 0xC3, 0x01, 0x42}, "header");
  }

  @Test
  void truncatedBodyIsMalformed() {
    byte[] message = SingleObjectCodec.EVENTS.encode(SampleEvents.everyFieldSet(EventType.MAP));

    assertMalformed(Arrays.copyOf(message, message.length - 3), "");
  }

  @Test
  void bytesAfterTheRecordAreMalformed() {
    byte[] message = SingleObjectCodec.EVENTS.encode(SampleEvents.everyFieldSet(EventType.MAP));

    assertMalformed(Arrays.copyOf(message, message.length + 2), "2 bytes left after the record");
  }

  private static void assertMalformed(byte[] message, String detail) {
    assertThatThrownBy(() -> SingleObjectCodec.EVENTS.decode(message))
        .isInstanceOfSatisfying(
            MalformedRecordException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(DeadLetterReason.MALFORMED_RECORD);
              assertThat(e.getMessage())
                  .startsWith("malformed IommuEvent message: ")
                  .contains(detail);
            });
  }
}
