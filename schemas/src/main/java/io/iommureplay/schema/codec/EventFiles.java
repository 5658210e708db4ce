package io.iommureplay.schema.codec;

import io.iommureplay.schema.IommuEvent;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.file.CodecFactory;
import org.apache.avro.file.DataFileConstants;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DatumWriter;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * Avro object container files of one record type (SPEC: Events — events, and findings, go to files
 * this way): a header with the writer schema, then blocks of records, each block compressed and
 * followed by a sync marker. Readers resolve the file's writer schema to the current one, so files
 * of kept releases stay readable.
 */
public final class EventFiles {

  /**
   * Deflate at level 1: most of deflate's size reduction on these repetitive records, at a fraction
   * of the CPU of the default level, which matters when importing or replaying millions of events.
   */
  public static final CodecFactory DEFAULT_CODEC = CodecFactory.deflateCodec(1);

  private EventFiles() {}

  /**
   * Creates (or truncates) {@code file} and returns a writer of {@code type} records compressed
   * with {@link #DEFAULT_CODEC}. Close it to finish the file.
   */
  public static <T extends SpecificRecord> RecordWriter<T> writer(Path file, Class<T> type)
      throws IOException {
    return writer(file, type, DEFAULT_CODEC);
  }

  /**
   * Creates (or truncates) {@code file} and returns a writer of {@code type} records compressed
   * with {@code codec} (e.g. {@code CodecFactory.fromString("null")} for none). Close it to finish
   * the file.
   */
  public static <T extends SpecificRecord> RecordWriter<T> writer(
      Path file, Class<T> type, CodecFactory codec) throws IOException {
    DatumWriter<T> datumWriter = datumWriter(type);
    DataFileWriter<T> avro = new DataFileWriter<>(datumWriter).setCodec(codec);
    Schema schema = SpecificData.get().getSchema(type);
    // Avro picks a random sync marker per file; a fixed one per schema keeps the same records in
    // byte-identical files (deterministic import and replay).
    avro.create(schema, Files.newOutputStream(file), syncMarker(schema));
    return new RecordWriter<>(avro, datumWriter);
  }

  /**
   * Opens {@code file} for streaming its records as {@code type}, resolving the file's writer
   * schema to the current one.
   *
   * @throws IOException when the file cannot be opened, is not an Avro container file, or holds
   *     records that cannot be read as {@code type}; the message names the file
   */
  public static <T extends SpecificRecord> RecordReader<T> reader(Path file, Class<T> type)
      throws IOException {
    if (!isAvroContainer(file)) {
      throw new IOException(file + ": not an Avro container file");
    }
    long length = Files.size(file);
    DataFileReader<T> avro;
    try {
      avro =
          new DataFileReader<>(
              file.toFile(), new SpecificDatumReader<>(type)); // closes the file on failure
    } catch (IOException | RuntimeException e) {
      AvroFailures.checkNotRefused(e);
      throw new IOException(file + ": unreadable Avro header: " + AvroFailures.describe(e), e);
    }
    Schema readerSchema = SpecificData.get().getSchema(type);
    SchemaPairCompatibility compatibility =
        SchemaCompatibility.checkReaderWriterCompatibility(readerSchema, avro.getSchema());
    if (compatibility.getType() != SchemaCompatibilityType.COMPATIBLE) {
      avro.close();
      throw new IOException(
          String.format(
              "%s: holds %s records, which cannot be read as %s: %s",
              file,
              avro.getSchema().getFullName(),
              readerSchema.getFullName(),
              compatibility.getResult().getIncompatibilities().stream()
                  .map(i -> i.getMessage() + " at " + i.getLocation())
                  .collect(Collectors.joining("; "))));
    }
    return new RecordReader<>(file, avro, length);
  }

  /**
   * Whether {@code file} starts with the Avro container magic ("Obj" 1), which tells an Avro file
   * from text without reading further. An empty or shorter file is not one.
   */
  /** A byte buffer whose contents can be handed on without a copy. */
  private static final class ExposedByteArrayOutputStream extends ByteArrayOutputStream {
    ByteBuffer contents() {
      return ByteBuffer.wrap(buf, 0, count);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends SpecificRecord> DatumWriter<T> datumWriter(Class<T> type) {
    return type == IommuEvent.class
        ? (DatumWriter<T>) new IommuEventDatumWriter()
        : new SpecificDatumWriter<>(type);
  }

  /** 16 bytes derived from the schema's fingerprint, used as the container's sync marker. */
  static byte[] syncMarker(Schema schema) {
    long fingerprint = SchemaNormalization.parsingFingerprint64(schema);
    return ByteBuffer.allocate(16).putLong(fingerprint).putLong(~Long.reverse(fingerprint)).array();
  }

  public static boolean isAvroContainer(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return Arrays.equals(in.readNBytes(DataFileConstants.MAGIC.length), DataFileConstants.MAGIC);
    }
  }

  /**
   * Appends records to a container file being written. Not thread-safe.
   *
   * @param <T> the record class
   */
  public static final class RecordWriter<T extends SpecificRecord> implements Closeable {

    private final DataFileWriter<T> avro;
    private final DatumWriter<T> datumWriter;
    private final ExposedByteArrayOutputStream encoded = new ExposedByteArrayOutputStream();
    private BinaryEncoder encoder;

    private RecordWriter(DataFileWriter<T> avro, DatumWriter<T> datumWriter) {
      this.avro = avro;
      this.datumWriter = datumWriter;
    }

    /** Appends one record; it is encoded at once, so the caller may change it afterwards. */
    public void append(T record) throws IOException {
      // DataFileWriter.append encodes byte by byte into a synchronized stream; encoding into our
      // own
      // buffer and appending the bytes is several times faster and writes the same file.
      encoded.reset();
      encoder = EncoderFactory.get().binaryEncoder(encoded, encoder);
      datumWriter.write(record, encoder);
      encoder.flush();
      avro.appendEncoded(encoded.contents());
    }

    /** Writes the last block and closes the file. */
    @Override
    public void close() throws IOException {
      avro.close();
    }
  }

  /**
   * Streams the records of a container file one block at a time, so memory stays constant whatever
   * the file size. Not thread-safe.
   *
   * <p>{@link #next()} returns a new record each time: the replay keeps some (unmaps waiting for
   * their domain), and a reused object would change under it.
   *
   * @param <T> the record class
   */
  public static final class RecordReader<T extends SpecificRecord>
      implements Iterator<T>, Closeable {

    private final Path file;
    private final DataFileReader<T> avro;
    private final long length;
    private long recordsRead;

    private RecordReader(Path file, DataFileReader<T> avro, long length) {
      this.file = file;
      this.avro = avro;
      this.length = length;
    }

    /**
     * Whether another record follows.
     *
     * @throws CorruptFileException when the next block is damaged, or the file ends inside a block
     */
    @Override
    public boolean hasNext() {
      boolean more;
      try {
        more = avro.hasNext();
      } catch (RuntimeException e) {
        throw corrupt(AvroFailures.describe(e), e);
      }
      // Avro ends quietly at an end of file inside a block; a whole file ends right after a sync
      // marker.
      if (!more && avro.previousSync() != length) {
        throw corrupt("the file ends inside this block (truncated, or followed by garbage)", null);
      }
      return more;
    }

    /**
     * The next record, a new object: callers (the replay model) may keep it.
     *
     * @throws NoSuchElementException when no record is left
     * @throws CorruptFileException when the record cannot be decoded
     */
    @Override
    public T next() {
      if (!hasNext()) {
        throw new NoSuchElementException(file + ": no record after record " + recordsRead);
      }
      T record;
      try {
        record = avro.next();
      } catch (RuntimeException e) {
        throw corrupt(AvroFailures.describe(e), e);
      }
      recordsRead++;
      return record;
    }

    private CorruptFileException corrupt(String problem, Exception cause) {
      if (cause != null) {
        AvroFailures.checkNotRefused(cause);
      }
      return new CorruptFileException(file, recordsRead + 1, avro.previousSync(), problem, cause);
    }

    /** Closes the file. */
    @Override
    public void close() throws IOException {
      avro.close();
    }
  }
}
