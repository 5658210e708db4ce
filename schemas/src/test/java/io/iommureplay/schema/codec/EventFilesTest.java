package io.iommureplay.schema.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.schema.EventType;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.Mapping;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.avro.file.CodecFactory;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class EventFilesTest {

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"default", "null", "deflate"})
  void eventsOfEveryTypeRoundTrip(String codec) throws IOException {
    Path file = dir.resolve("events.avro");
    List<IommuEvent> events = SampleEvents.everyType();

    try (EventFiles.RecordWriter<IommuEvent> writer =
        codec.equals("default")
            ? EventFiles.writer(file, IommuEvent.class)
            : EventFiles.writer(file, IommuEvent.class, CodecFactory.fromString(codec))) {
      for (IommuEvent event : events) {
        writer.append(event);
      }
    }

    assertThat(readCopies(file, IommuEvent.class)).isEqualTo(events);
    assertThat(EventFiles.isAvroContainer(file)).isTrue();
  }

  @Test
  void findingsRoundTrip() throws IOException {
    Path file = dir.resolve("findings.avro");
    try (EventFiles.RecordWriter<Finding> writer = EventFiles.writer(file, Finding.class)) {
      writer.append(SingleObjectCodecTest.finding());
    }

    assertThat(readCopies(file, Finding.class)).containsExactly(SingleObjectCodecTest.finding());
  }

  @Test
  void theReaderHandsOutRecordsTheCallerMayKeep() throws IOException {
    Path file = writeMaps(3);

    try (EventFiles.RecordReader<IommuEvent> reader = EventFiles.reader(file, IommuEvent.class)) {
      IommuEvent first = reader.next();
      IommuEvent second = reader.next();
      assertThat(second).isNotSameAs(first);
      assertThat(first.getSeq()).isZero();
      assertThat(second.getSeq()).isOne();
    }
  }

  @Test
  void textIsNotAnAvroContainer() throws IOException {
    Path text =
        Files.writeString(
            dir.resolve("trace.txt"), "  <idle>-0  [000] d.h1.  1.000: map: IOMMU...\n");
    Path empty = Files.createFile(dir.resolve("empty"));

    assertThat(EventFiles.isAvroContainer(text)).isFalse();
    assertThat(EventFiles.isAvroContainer(empty)).isFalse();
    assertThatThrownBy(() -> EventFiles.reader(text, IommuEvent.class))
        .isInstanceOf(IOException.class)
        .hasMessage(text + ": not an Avro container file");
  }

  @Test
  void aFileCutInsideItsHeaderIsRefusedWhenOpened() throws IOException {
    Path file = writeMaps(1);
    Files.write(file, Arrays.copyOf(Files.readAllBytes(file), 100));

    assertThatThrownBy(() -> EventFiles.reader(file, IommuEvent.class))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith(file + ": unreadable Avro header: ");
  }

  @Test
  void aFileOfAnotherRecordTypeIsRefusedWhenOpened() throws IOException {
    Path file = dir.resolve("findings.avro");
    try (EventFiles.RecordWriter<Finding> writer = EventFiles.writer(file, Finding.class)) {
      writer.append(SingleObjectCodecTest.finding());
    }

    assertThatThrownBy(() -> EventFiles.reader(file, IommuEvent.class))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith(
            file
                + ": holds io.iommureplay.schema.Finding records, which cannot be read as"
                + " io.iommureplay.schema.IommuEvent");
  }

  @Test
  void aDamagedSyncMarkerNamesTheFileRecordAndBlock() throws IOException {
    Path file = writeMaps(5_000);
    List<Block> blocks = blocks(file);
    assertThat(blocks).hasSizeGreaterThan(3);
    byte[] bytes = Files.readAllBytes(file);
    bytes[(int) blocks.get(2).offset() - 1] ^= 0x5a; // last byte of the second block's sync marker
    Files.write(file, bytes);

    assertUnreadableFrom(file, blocks.get(1), "Invalid sync");
  }

  @Test
  void aTruncatedFileNamesTheFileRecordAndBlock() throws IOException {
    Path file = writeMaps(5_000);
    List<Block> blocks = blocks(file);
    byte[] bytes = Files.readAllBytes(file);
    Files.write(
        file, Arrays.copyOf(bytes, (int) (blocks.get(1).offset() + blocks.get(2).offset()) / 2));

    assertUnreadableFrom(file, blocks.get(1), "the file ends inside this block");
  }

  /** Reading goes well up to the first record of {@code block}, then fails naming it. */
  private static void assertUnreadableFrom(Path file, Block block, String problem)
      throws IOException {
    List<Long> seqs = new ArrayList<>();

    try (EventFiles.RecordReader<IommuEvent> reader = EventFiles.reader(file, IommuEvent.class)) {
      assertThatThrownBy(() -> reader.forEachRemaining(event -> seqs.add(event.getSeq())))
          .isInstanceOfSatisfying(
              CorruptFileException.class,
              e -> {
                assertThat(e.file()).isEqualTo(file);
                assertThat(e.record()).isEqualTo(block.recordsBefore() + 1);
                assertThat(e.blockOffset()).isEqualTo(block.offset());
                assertThat(e.getMessage())
                    .startsWith(
                        file
                            + ": unreadable at record "
                            + (block.recordsBefore() + 1)
                            + " (block at byte "
                            + block.offset()
                            + "): ")
                    .contains(problem);
              });
    }
    assertThat(seqs).hasSize((int) block.recordsBefore());
  }

  private Path writeMaps(int count) throws IOException {
    Path file = dir.resolve("maps.avro");
    try (EventFiles.RecordWriter<IommuEvent> writer =
        EventFiles.writer(file, IommuEvent.class, CodecFactory.nullCodec())) {
      IommuEvent event = SampleEvents.everyFieldSet(EventType.MAP);
      for (int seq = 0; seq < count; seq++) {
        event.setSeq(seq);
        ((Mapping) event.getPayload()).setIova(seq * 4096L);
        writer.append(event);
      }
    }
    return file;
  }

  /** Where a block starts, as Avro reports it, and how many records come before it. */
  private record Block(long offset, long recordsBefore) {}

  private static List<Block> blocks(Path file) throws IOException {
    List<Block> blocks = new ArrayList<>();
    try (DataFileReader<IommuEvent> reader =
        new DataFileReader<>(file.toFile(), new SpecificDatumReader<>(IommuEvent.class))) {
      blocks.add(new Block(reader.previousSync(), 0));
      long records = 0;
      IommuEvent reuse = null;
      while (reader.hasNext()) {
        reuse = reader.next(reuse);
        records++;
        if (reader.previousSync() != blocks.get(blocks.size() - 1).offset()) {
          blocks.add(new Block(reader.previousSync(), records));
        }
      }
    }
    return blocks;
  }

  private static <T extends SpecificRecord> List<T> readCopies(Path file, Class<T> type)
      throws IOException {
    List<T> records = new ArrayList<>();
    try (EventFiles.RecordReader<T> reader = EventFiles.reader(file, type)) {
      reader.forEachRemaining(
          record -> records.add(SpecificData.get().deepCopy(record.getSchema(), record)));
    }
    return records;
  }
}
