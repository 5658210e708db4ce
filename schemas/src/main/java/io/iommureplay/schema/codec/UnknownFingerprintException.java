package io.iommureplay.schema.codec;

import io.iommureplay.schema.DeadLetterReason;

/**
 * A well-framed single-object message whose writer schema fingerprint the decoder does not know:
 * written with a schema that is neither the current one nor a kept release, or meant for another
 * record type.
 */
public final class UnknownFingerprintException extends RecordDecodingException {

  private final long fingerprint;

  UnknownFingerprintException(Class<?> recordType, long fingerprint) {
    super(
        String.format(
            "unknown schema fingerprint %016x: not a known version of %s",
            fingerprint, recordType.getSimpleName()),
        null);
    this.fingerprint = fingerprint;
  }

  /** The message's CRC-64-AVRO fingerprint of the writer schema's parsing canonical form. */
  public long fingerprint() {
    return fingerprint;
  }

  /** Always {@link DeadLetterReason#UNKNOWN_SCHEMA_FINGERPRINT}. */
  @Override
  public DeadLetterReason reason() {
    return DeadLetterReason.UNKNOWN_SCHEMA_FINGERPRINT;
  }
}
