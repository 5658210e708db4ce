package io.iommureplay.model;

import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.io.ByteArrayOutputStream;
import java.util.zip.CRC32;

/**
 * The framing of an {@link IommuModel} snapshot: {@link #MAGIC} (8 bytes), the format version
 * (varint), the snapshot's total length (8 bytes), the body the model and its parts write with
 * their {@code save} methods, and the CRC-32 of all before it (8 bytes).
 *
 * <p>Version 1 body: page-table format name and page sizes (checked against the config at restore),
 * sawHardwareFlush, the IOTLB model, the PASID space, the domains by id (each: id, type, granule,
 * syncSeen, page table, devices, reserved regions, flush queue and IOVA replay if any), the orphan
 * unmaps oldest first, then the deferred releases (held tables, per-CPU pending enqueues and last
 * event types). The device→domain map is not written: the domains' device sets give it.
 *
 * <p>Any change of what a part writes bumps {@link #VERSION}, keeps a reader of every earlier
 * version, and adds that version's fixture to the tests (src/test/resources/snapshots). A field
 * that goes keeps its slot, written as a constant and marked obsolete.
 */
final class ModelSnapshot {
  /** "IOMMUSNP". */
  static final long MAGIC = 0x494F4D4D55534E50L;

  static final int VERSION = 1;

  private static final int CRC_BYTES = 8;

  private ModelSnapshot() {}

  static byte[] write(IommuModel model) {
    SnapshotOutput body = new SnapshotOutput();
    model.save(body);
    SnapshotOutput head = new SnapshotOutput().writeLong(MAGIC).writeVarInt(VERSION);
    long length = head.size() + Long.BYTES + body.size() + CRC_BYTES; // the length counts itself
    head.writeLong(length);
    ByteArrayOutputStream framed = new ByteArrayOutputStream((int) length);
    head.writeTo(framed);
    body.writeTo(framed);
    CRC32 crc = new CRC32();
    crc.update(framed.toByteArray());
    new SnapshotOutput().writeLong(crc.getValue()).writeTo(framed);
    return framed.toByteArray();
  }

  static IommuModel read(byte[] snapshot, ModelConfig config, ModelListener listener) {
    int covered = Math.max(0, snapshot.length - CRC_BYTES);
    SnapshotInput in = new SnapshotInput(snapshot, 0, covered);
    long magic = in.readLong();
    if (magic != MAGIC) {
      throw new SnapshotFormatException(
          "not an IOMMU model snapshot: magic 0x%016x, expected 0x%016x".formatted(magic, MAGIC));
    }
    int version = in.readVarInt();
    if (version != VERSION) {
      throw new SnapshotFormatException(
          "IOMMU model snapshot format version " + version + ", this code reads " + VERSION);
    }
    long length = in.readLong();
    if (length != snapshot.length) {
      throw new SnapshotFormatException(
          "snapshot %s: %,d bytes, its header says %,d"
              .formatted(
                  length > snapshot.length ? "truncated" : "with bytes appended",
                  snapshot.length,
                  length));
    }
    CRC32 crc = new CRC32();
    crc.update(snapshot, 0, covered);
    if (crc.getValue() != new SnapshotInput(snapshot, covered, CRC_BYTES).readLong())
      throw new SnapshotFormatException("snapshot corrupt: CRC-32 mismatch");
    IommuModel model = IommuModel.restore(in, config, listener);
    if (!in.atEnd())
      throw new SnapshotFormatException("snapshot has bytes left over after the model");
    return model;
  }
}
