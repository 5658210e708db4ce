package io.iommureplay.schema.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.Mapping;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.GenericRecordBuilder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The current IommuEvent schema reads what the first release wrote (SPEC: Events). The v1 records
 * are built by hand against the v1 schema, with no generated class, so this test keeps its meaning
 * as the schema evolves.
 */
class SchemaEvolutionTest {

  private static final Schema V1 = SchemaHistory.IOMMU_EVENT_V1;

  @TempDir Path dir;

  @Test
  void theReleasedV1SchemaIsNeverEdited() {
    assertThat(SchemaNormalization.parsingFingerprint64(V1)).isEqualTo(V1_FINGERPRINT);
  }

  @Test
  void theCurrentSchemaIsTheLatestRelease() {
    // Changing an .avsc means releasing a new version: add its copy to SchemaHistory.
    List<Schema> releases = SchemaHistory.IOMMU_EVENT_RELEASES;
    assertThat(SchemaNormalization.toParsingForm(releases.get(releases.size() - 1)))
        .isEqualTo(SchemaNormalization.toParsingForm(IommuEvent.getClassSchema()));
  }

  @Test
  void avroSaysTheCurrentSchemaReadsV1() {
    var compatibility =
        SchemaCompatibility.checkReaderWriterCompatibility(IommuEvent.getClassSchema(), V1);

    assertThat(compatibility.getType())
        .as("%s", compatibility.getResult().getIncompatibilities())
        .isEqualTo(SchemaCompatibilityType.COMPATIBLE);
  }

  @Test
  void binaryDataWrittenWithV1IsReadByTheCurrentSpecificReader() throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
    GenericDatumWriter<GenericRecord> writer = new GenericDatumWriter<>(V1);
    for (GenericRecord record : v1Records()) {
      writer.write(record, encoder);
    }
    encoder.flush();

    SpecificDatumReader<IommuEvent> reader =
        new SpecificDatumReader<>(V1, IommuEvent.getClassSchema());
    var decoder = DecoderFactory.get().binaryDecoder(bytes.toByteArray(), null);
    List<IommuEvent> events = new ArrayList<>();
    while (!decoder.isEnd()) {
      events.add(reader.read(null, decoder));
    }

    assertThat(events).isEqualTo(expectedEvents());
  }

  @Test
  void aContainerFileWrittenWithV1IsReadByEventFiles() throws IOException {
    Path file = dir.resolve("v1.avro");
    try (DataFileWriter<GenericRecord> writer =
        new DataFileWriter<>(new GenericDatumWriter<GenericRecord>(V1))) {
      writer.create(V1, file.toFile());
      for (GenericRecord record : v1Records()) {
        writer.append(record);
      }
    }

    List<IommuEvent> events = new ArrayList<>();
    try (EventFiles.RecordReader<IommuEvent> reader = EventFiles.reader(file, IommuEvent.class)) {
      reader.forEachRemaining(event -> events.add(IommuEvent.newBuilder(event).build()));
    }

    assertThat(events).isEqualTo(expectedEvents());
  }

  @Test
  void aSingleObjectMessageEncodedWithV1Decodes() throws Exception {
    BinaryMessageEncoder<GenericRecord> v1Encoder =
        new BinaryMessageEncoder<>(GenericData.get(), V1);

    List<IommuEvent> events = new ArrayList<>();
    for (GenericRecord record : v1Records()) {
      events.add(SingleObjectCodec.EVENTS.decode(v1Encoder.encode(record).array()));
    }

    assertThat(events).isEqualTo(expectedEvents());
  }

  /**
   * A map, a page-selective flush with its descriptor, and an event of unknown type, as v1 wrote
   * them.
   */
  private static List<GenericRecord> v1Records() {
    Schema eventType = V1.getField("type").schema();
    Schema payloads = V1.getField("payload").schema();
    Schema mapping =
        payloads.getTypes().get(payloads.getIndexNamed("io.iommureplay.schema.Mapping"));
    Schema flush =
        payloads.getTypes().get(payloads.getIndexNamed("io.iommureplay.schema.IotlbInvalidation"));

    GenericRecord map =
        v1Header(eventType, "MAP", 1)
            .set(
                "payload",
                new GenericRecordBuilder(mapping)
                    .set("iova", 0x1000L)
                    .set("size", 0x2000L)
                    .set("paddr", 0x8000L)
                    .set("prot", 3)
                    .build())
            .build();
    GenericRecord pageFlush =
        v1Header(eventType, "IOTLB_FLUSH", 2)
            .set(
                "payload",
                new GenericRecordBuilder(flush)
                    .set(
                        "scope",
                        new GenericData.EnumSymbol(flush.getField("scope").schema(), "PAGE"))
                    .set("iova", 0x1000L)
                    .set("size", 0x2000L)
                    .set("addressMask", 1)
                    .set("leafOnly", true)
                    .set("hwDomainId", 5)
                    .set(
                        "trigger",
                        new GenericData.EnumSymbol(flush.getField("trigger").schema(), "SYNC"))
                    .set("descriptor", List.of(0x50023L, 0x1041L))
                    .build())
            .build();
    GenericRecord unknown = v1Header(eventType, "UNKNOWN", 3).build();
    return List.of(map, pageFlush, unknown);
  }

  private static GenericRecordBuilder v1Header(Schema eventType, String type, long seq) {
    return new GenericRecordBuilder(V1)
        .set("host", "h1")
        .set("seq", seq)
        .set("tsNs", 1000L * seq)
        .set("cpu", 0)
        .set("type", new GenericData.EnumSymbol(eventType, type))
        .set("domain", 7L)
        .set("device", "0000:00:04.0");
  }

  private static List<IommuEvent> expectedEvents() {
    return List.of(
        expectedHeader(EventType.MAP, 1)
            .setPayload(new Mapping(0x1000L, 0x2000L, 0x8000L, 3, null))
            .build(),
        expectedHeader(EventType.IOTLB_FLUSH, 2)
            .setPayload(
                IotlbInvalidation.newBuilder()
                    .setScope(FlushScope.PAGE)
                    .setIova(0x1000L)
                    .setSize(0x2000L)
                    .setAddressMask(1)
                    .setLeafOnly(true)
                    .setHwDomainId(5)
                    .setTrigger(FlushTrigger.SYNC)
                    .setDescriptor(List.of(0x50023L, 0x1041L))
                    .build())
            .build(),
        expectedHeader(EventType.UNKNOWN, 3).build());
  }

  private static IommuEvent.Builder expectedHeader(EventType type, long seq) {
    return IommuEvent.newBuilder()
        .setHost("h1")
        .setSeq(seq)
        .setTsNs(1000L * seq)
        .setCpu(0)
        .setType(type)
        .setSource("")
        .setDomain(7L)
        .setDevice("0000:00:04.0")
        .setAttribution(Attribution.NOT_NEEDED);
  }

  /** CRC-64-AVRO of the v1 schema's parsing canonical form, taken when v1 was released. */
  private static final long V1_FINGERPRINT = 0xbdc1621f9d5b5128L;
}
