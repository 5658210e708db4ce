package io.iommureplay.schema.codec;

import io.iommureplay.schema.DeadLetterReason;

/**
 * A message that is not a readable record: no single-object header, a body that does not decode
 * with its writer schema, or bytes left over after the record.
 */
public final class MalformedRecordException extends RecordDecodingException {

  MalformedRecordException(Class<?> recordType, String problem, Throwable cause) {
    super("malformed " + recordType.getSimpleName() + " message: " + problem, cause);
  }

  /** Always {@link DeadLetterReason#MALFORMED_RECORD}. */
  @Override
  public DeadLetterReason reason() {
    return DeadLetterReason.MALFORMED_RECORD;
  }
}
