package io.iommureplay.schema.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.Test;

class IommuEventDatumWriterTest {

  @Test
  void writesExactlyWhatAvroWrites() throws IOException {
    List<IommuEvent> events = new ArrayList<>(SampleEvents.everyType());
    for (EventType type : EventType.values()) events.add(SampleEvents.nullableFieldsNull(type));

    for (IommuEvent event : events) {
      assertThat(encode(new IommuEventDatumWriter(), event))
          .as("%s", event.getType())
          .isEqualTo(encode(new SpecificDatumWriter<>(IommuEvent.class), event));
    }
  }

  private static byte[] encode(DatumWriter<IommuEvent> writer, IommuEvent event)
      throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(bytes, null);
    writer.write(event, encoder);
    encoder.flush();
    return bytes.toByteArray();
  }
}
