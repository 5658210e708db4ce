package io.iommureplay.schema.codec;

import io.iommureplay.schema.Alert;
import io.iommureplay.schema.DeadLetter;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingSummary;
import io.iommureplay.schema.IommuEvent;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Avro single-object encoding of one record type, the form of Kafka messages (SPEC: Events): the
 * two bytes C3 01, the writer schema's 8-byte CRC-64-AVRO fingerprint (little-endian), then the
 * binary record. The fingerprint travels with each message, so no schema registry is needed; the
 * decoder resolves every writer schema it knows (the current one and the kept releases) to the
 * current reader schema.
 *
 * <p>Instances are immutable and thread-safe.
 *
 * @param <T> the generated record class
 */
public final class SingleObjectCodec<T extends SpecificRecord> {

  /**
   * Events; also decodes messages written with every release in {@link
   * SchemaHistory#IOMMU_EVENT_RELEASES}.
   */
  public static final SingleObjectCodec<IommuEvent> EVENTS =
      new SingleObjectCodec<>(IommuEvent.class, SchemaHistory.IOMMU_EVENT_RELEASES);

  /** Findings. */
  public static final SingleObjectCodec<Finding> FINDINGS =
      new SingleObjectCodec<>(Finding.class, List.of());

  /** Aggregated finding summaries. */
  public static final SingleObjectCodec<FindingSummary> SUMMARIES =
      new SingleObjectCodec<>(FindingSummary.class, List.of());

  /** Security alerts. */
  public static final SingleObjectCodec<Alert> ALERTS =
      new SingleObjectCodec<>(Alert.class, List.of());

  /** Dead letters. */
  public static final SingleObjectCodec<DeadLetter> DEAD_LETTERS =
      new SingleObjectCodec<>(DeadLetter.class, List.of());

  /** Avro specification, "Single-object encoding": 2 marker bytes and the 8-byte fingerprint. */
  private static final int FINGERPRINT_OFFSET = 2;

  private final Class<T> type;
  private final BinaryMessageEncoder<T> encoder;
  private final BinaryMessageDecoder<T> decoder;

  private SingleObjectCodec(Class<T> type, List<Schema> releasedWriterSchemas) {
    SpecificData model = SpecificData.getForClass(type);
    Schema schema = model.getSchema(type);
    this.type = type;
    this.encoder = new BinaryMessageEncoder<>(model, schema);
    this.decoder = new BinaryMessageDecoder<>(model, schema);
    releasedWriterSchemas.forEach(decoder::addSchema);
  }

  /** The record class this codec encodes and decodes. */
  public Class<T> recordType() {
    return type;
  }

  /**
   * The record as one single-object message, written with the current schema.
   *
   * @throws RuntimeException from Avro when the record is invalid (e.g. a required field is null)
   */
  public byte[] encode(T record) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(256);
    try {
      encoder.encode(record, out);
    } catch (IOException e) {
      throw new UncheckedIOException("writing to memory cannot fail", e);
    }
    return out.toByteArray();
  }

  /** Decodes one whole message into a new record; see {@link #decode(byte[], SpecificRecord)}. */
  public T decode(byte[] message) throws RecordDecodingException {
    return decode(message, null);
  }

  /**
   * Decodes one whole message, filling {@code reuse} when it is not null (Avro may still allocate
   * nested records), and resolving the writer schema named by the fingerprint to the current one.
   *
   * @throws UnknownFingerprintException when the fingerprint is not one this codec knows
   * @throws MalformedRecordException when the bytes are not a single-object message, the body does
   *     not decode, or bytes are left over after the record
   * @throws IllegalStateException when the JVM does not trust the generated classes (a setup error)
   */
  public T decode(byte[] message, T reuse) throws RecordDecodingException {
    ByteArrayInputStream in = new ByteArrayInputStream(message);
    T record;
    try {
      record = decoder.decode(in, reuse);
    } catch (MissingSchemaException e) {
      throw new UnknownFingerprintException(
          type,
          ByteBuffer.wrap(message, FINGERPRINT_OFFSET, Long.BYTES)
              .order(ByteOrder.LITTLE_ENDIAN)
              .getLong());
    } catch (IOException | RuntimeException e) {
      // Corrupt bytes surface as any of Avro's runtime exceptions (bad union index, negative
      // length, ...).
      AvroFailures.checkNotRefused(e);
      throw new MalformedRecordException(type, AvroFailures.describe(e), e);
    }
    if (in.available() > 0) {
      throw new MalformedRecordException(
          type, in.available() + " bytes left after the record", null);
    }
    return record;
  }
}
