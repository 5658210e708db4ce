package io.iommureplay.schema.codec;

import java.nio.file.Path;

/**
 * An Avro container file that stopped being readable part-way: a damaged block, or a file cut
 * short. The message names the file, the record being read and the byte offset of its block, so it
 * can be printed as is.
 */
public final class CorruptFileException extends RuntimeException {

  private final Path file;
  private final long record;
  private final long blockOffset;

  CorruptFileException(Path file, long record, long blockOffset, String problem, Throwable cause) {
    super(
        String.format(
            "%s: unreadable at record %d (block at byte %d): %s",
            file, record, blockOffset, problem),
        cause);
    this.file = file;
    this.record = record;
    this.blockOffset = blockOffset;
  }

  /** The file. */
  public Path file() {
    return file;
  }

  /** The 1-based number of the record that could not be read; the ones before it were read. */
  public long record() {
    return record;
  }

  /** The byte offset in the file of the block that holds the record. */
  public long blockOffset() {
    return blockOffset;
  }
}
