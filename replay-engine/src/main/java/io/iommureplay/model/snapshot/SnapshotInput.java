package io.iommureplay.model.snapshot;

import java.nio.charset.StandardCharsets;

/**
 * Reads what {@link SnapshotOutput} wrote; a truncated or corrupt snapshot raises {@link
 * SnapshotFormatException}.
 */
public final class SnapshotInput {
  private final byte[] buf;
  private int pos;
  private final int end;

  public SnapshotInput(byte[] bytes) {
    this(bytes, 0, bytes.length);
  }

  public SnapshotInput(byte[] bytes, int offset, int length) {
    this.buf = bytes;
    this.pos = offset;
    this.end = offset + length;
  }

  public long readVarLong() {
    long value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      byte b = next();
      value |= (long) (b & 0x7F) << shift;
      if (b >= 0) return value;
    }
    throw new SnapshotFormatException("varint longer than 10 bytes at offset " + (pos - 1));
  }

  public int readVarInt() {
    long value = readVarLong();
    if (value >>> 32 != 0) throw new SnapshotFormatException("int out of range at offset " + pos);
    return (int) value;
  }

  public long readSignedVarLong() {
    long raw = readVarLong();
    return (raw >>> 1) ^ -(raw & 1);
  }

  public long readLong() {
    long value = 0;
    for (int i = 0; i < 8; i++) value = value << 8 | (next() & 0xFF);
    return value;
  }

  public boolean readBoolean() {
    byte b = next();
    if (b != 0 && b != 1)
      throw new SnapshotFormatException("bad boolean " + b + " at offset " + (pos - 1));
    return b == 1;
  }

  public String readString() {
    int n = readVarInt();
    if (n == 0) return null;
    int length = n - 1;
    if (length > end - pos)
      throw new SnapshotFormatException("string runs past the end at offset " + pos);
    String s = new String(buf, pos, length, StandardCharsets.UTF_8);
    pos += length;
    return s;
  }

  public <E extends Enum<E>> E readEnum(Class<E> type) {
    int ordinal = readVarInt();
    E[] constants = type.getEnumConstants();
    if (ordinal >= constants.length) {
      throw new SnapshotFormatException("unknown " + type.getSimpleName() + " ordinal " + ordinal);
    }
    return constants[ordinal];
  }

  /**
   * A count that must fit the bytes left (each element takes at least one byte): guards
   * allocations.
   */
  public int readCount() {
    int n = readVarInt();
    if (n > end - pos)
      throw new SnapshotFormatException("count " + n + " exceeds the bytes left at offset " + pos);
    return n;
  }

  public boolean atEnd() {
    return pos == end;
  }

  private byte next() {
    if (pos >= end) throw new SnapshotFormatException("snapshot truncated at offset " + pos);
    return buf[pos++];
  }
}
