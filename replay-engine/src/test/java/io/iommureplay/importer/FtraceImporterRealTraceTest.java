package io.iommureplay.importer;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.Attribution;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.testing.SharedTraces;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Imports the real captures in ../shared/traces and checks them against their counts.txt. */
class FtraceImporterRealTraceTest {

  @ParameterizedTest
  @ValueSource(strings = {"lazy-smp2", "strict"})
  void everyCountedEventIsImportedExactlyOnce(String name) throws Exception {
    Result result = importTrace(name);
    Map<String, Long> expected = SharedTraces.counts(name);

    assertThat(result.stats.eventsBySource()).containsExactlyInAnyOrderEntriesOf(expected);
    assertThat(result.stats.malformedLines()).isZero();
    assertThat(result.rejected).isEmpty();
    assertThat(result.stats.unknownKinds()).isEmpty();
    assertThat(result.stats.events())
        .isEqualTo(expected.values().stream().mapToLong(Long::longValue).sum());
  }

  @ParameterizedTest
  @ValueSource(strings = {"lazy-smp2", "strict"})
  void mapAndUnmapAreAttributedToDeviceAndDomain(String name) throws Exception {
    Result result = importTrace(name);
    double rate = result.stats.mapUnmapAttributionRate();
    System.out.printf(
        "%s: map/unmap attribution %.4f%% %s%n",
        name, rate * 100, result.stats.mapUnmapAttribution());

    assertThat(rate).isGreaterThanOrEqualTo(0.99);
    Map<EventType, Long> attributedWithoutDomain = new EnumMap<>(EventType.class);
    for (IommuEvent e : result.mapsAndUnmaps) {
      if (e.getAttribution() != Attribution.MISSING
          && (e.getDomain() < 0 || e.getDevice() == null)) {
        attributedWithoutDomain.merge(e.getType(), 1L, Long::sum);
      }
    }
    assertThat(attributedWithoutDomain)
        .as("attributed events name both domain and device")
        .isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"strict"})
  void importIsDeterministic(String name) throws Exception {
    assertThat(digest(name)).isEqualTo(digest(name));
  }

  private static byte[] digest(String name) throws Exception {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    SpecificDatumWriter<IommuEvent> writer = new SpecificDatumWriter<>(IommuEvent.class);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(bytes, null);
    FtraceImporter importer =
        new FtraceImporter(
            name,
            new ImportSink() {
              @Override
              public void event(IommuEvent event) {
                try {
                  bytes.reset();
                  writer.write(event, encoder);
                  sha.update(bytes.toByteArray());
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              }

              @Override
              public void rejected(RejectedLine line) {
                sha.update(line.toString().getBytes());
              }
            });
    try (BufferedReader in = TraceInput.open(SharedTraces.trace(name))) {
      importer.read(name, in);
    }
    importer.finish();
    return sha.digest();
  }

  private record Result(
      ImportStats stats, List<IommuEvent> mapsAndUnmaps, List<ImportSink.RejectedLine> rejected) {}

  private static Result importTrace(String name) throws IOException {
    List<IommuEvent> mapsAndUnmaps = new ArrayList<>();
    List<ImportSink.RejectedLine> rejected = new ArrayList<>();
    long[] lastSeq = {0};
    FtraceImporter importer =
        new FtraceImporter(
            name,
            new ImportSink() {
              @Override
              public void event(IommuEvent event) {
                assertThat(event.getSeq())
                    .as("events leave in line order")
                    .isGreaterThan(lastSeq[0]);
                lastSeq[0] = event.getSeq();
                if (event.getType() == EventType.MAP || event.getType() == EventType.UNMAP)
                  mapsAndUnmaps.add(event);
              }

              @Override
              public void rejected(RejectedLine line) {
                if (rejected.size() < 20) System.out.println(line);
                rejected.add(line);
              }
            });
    try (BufferedReader in = TraceInput.open(SharedTraces.trace(name))) {
      importer.read(name, in);
    }
    importer.finish();
    return new Result(importer.stats(), mapsAndUnmaps, rejected);
  }
}
