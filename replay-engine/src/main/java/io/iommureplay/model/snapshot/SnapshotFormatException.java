package io.iommureplay.model.snapshot;

/** A snapshot that cannot be read: truncated, corrupt, or of an unknown format version. */
public final class SnapshotFormatException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public SnapshotFormatException(String message) {
    super(message);
  }
}
