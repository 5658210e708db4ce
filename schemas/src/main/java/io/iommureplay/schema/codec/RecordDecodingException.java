package io.iommureplay.schema.codec;

import io.iommureplay.schema.DeadLetterReason;

/**
 * A message that could not be decoded into a record. Each subclass is one dead-letter reason, so a
 * stream job routes the message with {@link #reason()} and {@link #getMessage()} (SPEC: Bad input
 * and faults).
 */
public abstract sealed class RecordDecodingException extends Exception
    permits UnknownFingerprintException, MalformedRecordException {

  RecordDecodingException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The dead-letter reason this failure stands for. */
  public abstract DeadLetterReason reason();
}
