package io.iommureplay.model.snapshot;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Writes model state compactly: unsigned LEB128 varints for counts and non-negative numbers,
 * zig-zag varints for signed ones, fixed 8 bytes where values are spread over 64 bits (addresses).
 * Every model component writes itself with {@code save(SnapshotOutput)} and reads itself back with
 * a matching {@code restore(SnapshotInput)}; {@link ModelSnapshot} frames the whole with a magic
 * and a format version.
 */
public final class SnapshotOutput {
  private byte[] buf = new byte[256];
  private int len;

  public SnapshotOutput writeVarLong(long value) {
    ensure(10);
    while ((value & ~0x7FL) != 0) {
      buf[len++] = (byte) ((value & 0x7F) | 0x80);
      value >>>= 7;
    }
    buf[len++] = (byte) value;
    return this;
  }

  public SnapshotOutput writeVarInt(int value) {
    return writeVarLong(value & 0xFFFFFFFFL);
  }

  public SnapshotOutput writeSignedVarLong(long value) {
    return writeVarLong((value << 1) ^ (value >> 63));
  }

  public SnapshotOutput writeLong(long value) {
    ensure(8);
    for (int shift = 56; shift >= 0; shift -= 8) buf[len++] = (byte) (value >>> shift);
    return this;
  }

  public SnapshotOutput writeBoolean(boolean value) {
    ensure(1);
    buf[len++] = (byte) (value ? 1 : 0);
    return this;
  }

  /** A string, or null. */
  public SnapshotOutput writeString(String value) {
    if (value == null) return writeVarInt(0);
    byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
    writeVarInt(bytes.length + 1);
    ensure(bytes.length);
    System.arraycopy(bytes, 0, buf, len, bytes.length);
    len += bytes.length;
    return this;
  }

  /** An enum constant by ordinal (enums in snapshots only ever get constants appended). */
  public SnapshotOutput writeEnum(Enum<?> value) {
    return writeVarInt(value.ordinal());
  }

  public int size() {
    return len;
  }

  public byte[] toByteArray() {
    return Arrays.copyOf(buf, len);
  }

  public void writeTo(ByteArrayOutputStream out) {
    out.write(buf, 0, len);
  }

  private void ensure(int more) {
    if (len + more > buf.length) buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
  }
}
