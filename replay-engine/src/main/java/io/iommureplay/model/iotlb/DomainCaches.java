package io.iommureplay.model.iotlb;

import io.iommureplay.model.PciRequesterId;
import io.iommureplay.model.snapshot.SnapshotFormatException;
import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What one domain's translations may still sit in: its IOTLB entries and paging-structure-cache
 * entries, and the device TLBs of its ATS devices. Each such cache is a holder with a bit of its
 * own; an {@link Extent} carries the bits of the holders that may hold it.
 *
 * <p>Holders follow the tags VT-d invalidations select by (VT-d spec 6.5.2.3-6.5.2.6, as QEMU's
 * intel_iommu.c applies them): a second-stage domain has one IOTLB holder, whatever the PASID,
 * since IOTLB descriptors cover every PASID of a domain id; a first-stage domain has one per PASID,
 * since PASID-based descriptors select one; a device TLB is one per (device, PASID).
 */
final class DomainCaches {

  /** The PASID of a second-stage domain's IOTLB holder: entries of every PASID. */
  static final int ANY_PASID = -1;

  private static final int SLOTS = 64;

  final long id;
  final boolean firstStage;

  /** Pieces of open windows: may overlap when an IOVA was unmapped twice before a flush. */
  final ExtentTree windows = new ExtentTree();

  /** Observed mode: pages of live mappings a device accessed; never overlapping. */
  final ExtentTree live = new ExtentTree();

  /** Table pages unlinked while the paging-structure caches may still point at them. */
  final ExtentTree tables = new ExtentTree();

  // Holder in slot i: an IOTLB when holderDevice[i] is null, else that device's device TLB.
  private final String[] holderDevice = new String[SLOTS];
  private final int[] holderSid = new int[SLOTS];
  private final int[] holderPasid = new int[SLOTS];
  private long usedSlots;

  /** Slots of IOTLB holders. */
  long iotlbBits;

  private final List<Attachment> attachments = new ArrayList<>();

  /** Holders of the devices attached now: what a conservative unmap leaves translating. */
  long attachedBits;

  /** Names of the attached devices, shared by the windows opened while they are. */
  List<String> devices = List.of();

  private record Attachment(String device, int pasid, boolean ats) {}

  DomainCaches(long id, boolean firstStage) {
    this.id = id;
    this.firstStage = firstStage;
  }

  void attach(String device, int pasid, boolean ats) {
    reserve(device, pasid, ats);
    attachments.removeIf(a -> a.device.equals(device) && a.pasid == pasid);
    attachments.add(new Attachment(device, pasid, ats));
    attachmentsChanged();
  }

  void detach(String device, int pasid) {
    attachments.removeIf(a -> a.device.equals(device) && a.pasid == pasid);
    attachmentsChanged();
  }

  /** The holders a request of {@code device} with {@code pasid} fills, created as needed. */
  long requestBits(String device, int pasid) {
    boolean ats = false;
    for (Attachment a : attachments) {
      ats |= a.ats && a.device.equals(device);
    }
    reserve(device, pasid, ats);
    return holder(null, iotlbPasid(pasid)) | (ats ? holder(device, pasid) : 0);
  }

  /**
   * The holders a request of {@code device} (null: any) with {@code pasid} reads; none are created.
   */
  long readBits(String device, int pasid) {
    if (device == null) {
      return -1L;
    }
    return find(null, iotlbPasid(pasid)) | find(device, pasid);
  }

  /** The IOTLB holder of {@code pasid}, 0 if there is none. */
  long iotlbBit(int pasid) {
    return find(null, iotlbPasid(pasid));
  }

  /**
   * What a conservative unmap or a table unlink leaves in the IOTLB: at least the RID2PASID entry.
   */
  long conservativeBits(boolean iotlbOnly) {
    long bits = iotlbOnly ? attachedBits & iotlbBits : attachedBits;
    if (bits != 0) {
      return bits;
    }
    reserve(null, IotlbModel.NO_PASID, false);
    return holder(null, iotlbPasid(IotlbModel.NO_PASID));
  }

  /**
   * Device-TLB holders of the device with requester id {@code sourceId} (null: every device) for
   * {@code pasid} (null: every PASID; an invalidation without PASID is taken to reach them all).
   */
  long deviceTlbBits(Integer sourceId, Integer pasid) {
    long bits = 0;
    for (long slots = usedSlots & ~iotlbBits; slots != 0; slots &= slots - 1) {
      int i = Long.numberOfTrailingZeros(slots);
      if ((sourceId == null || holderSid[i] == sourceId)
          && (pasid == null || holderPasid[i] == pasid)) {
        bits |= 1L << i;
      }
    }
    return bits;
  }

  /** Writes the holders, then the attachments: restoring them in this order keeps every slot. */
  void save(SnapshotOutput out) {
    int slots = SLOTS - Long.numberOfLeadingZeros(usedSlots);
    out.writeVarInt(slots);
    for (int i = 0; i < slots; i++) {
      out.writeBoolean((usedSlots >>> i & 1) != 0);
      if ((usedSlots >>> i & 1) != 0) {
        out.writeString(holderDevice[i]).writeSignedVarLong(holderPasid[i]);
      }
    }
    out.writeVarInt(attachments.size());
    for (Attachment a : attachments) {
      out.writeString(a.device).writeSignedVarLong(a.pasid).writeBoolean(a.ats);
    }
  }

  void restore(SnapshotInput in) {
    int slots = in.readCount();
    if (slots > SLOTS) {
      throw new SnapshotFormatException(slots + " cache holders in domain " + id);
    }
    for (int i = 0; i < slots; i++) {
      if (in.readBoolean()) {
        fill(i, in.readString(), (int) in.readSignedVarLong());
      }
    }
    for (int n = in.readCount(); n > 0; n--) {
      String device = in.readString();
      if (device == null) {
        throw new SnapshotFormatException("attachment without a device in domain " + id);
      }
      attachments.add(new Attachment(device, (int) in.readSignedVarLong(), in.readBoolean()));
    }
    attachmentsChanged();
  }

  private int iotlbPasid(int pasid) {
    return firstStage ? pasid : ANY_PASID;
  }

  private long find(String device, int pasid) {
    for (long slots = usedSlots; slots != 0; slots &= slots - 1) {
      int i = Long.numberOfTrailingZeros(slots);
      if (holderPasid[i] == pasid && Objects.equals(holderDevice[i], device)) {
        return 1L << i;
      }
    }
    return 0;
  }

  /**
   * The holder's bit; a new holder takes a free slot, which the caller {@link #reserve reserved}.
   */
  private long holder(String device, int pasid) {
    long bit = find(device, pasid);
    if (bit != 0) {
      return bit;
    }
    int slot = Long.numberOfTrailingZeros(~usedSlots);
    fill(slot, device, pasid);
    return 1L << slot;
  }

  /**
   * Makes room for the holders requests of {@code device} with {@code pasid} fill before any is
   * created, freeing the slots of holders no attachment and no extent refers to any more.
   */
  private void reserve(String device, int pasid, boolean ats) {
    int count =
        (find(null, iotlbPasid(pasid)) == 0 ? 1 : 0) + (ats && find(device, pasid) == 0 ? 1 : 0);
    if (Long.bitCount(~usedSlots) >= count) {
      return;
    }
    long inUse = attachedBits;
    for (ExtentTree tree : List.of(windows, live, tables)) {
      for (Extent e : tree.all()) {
        inUse |= e.holders;
      }
    }
    usedSlots &= inUse;
    iotlbBits &= inUse;
    if (Long.bitCount(~usedSlots) < count) {
      throw new IllegalStateException(
          "domain " + id + " has entries in all " + SLOTS + " caches it can track");
    }
  }

  private void fill(int slot, String device, int pasid) {
    holderDevice[slot] = device;
    holderSid[slot] = device == null ? -1 : PciRequesterId.of(device);
    holderPasid[slot] = pasid;
    usedSlots |= 1L << slot;
    if (device == null) {
      iotlbBits |= 1L << slot;
    }
  }

  private void attachmentsChanged() {
    long bits = 0;
    for (Attachment a : attachments) {
      bits |= holder(null, iotlbPasid(a.pasid)) | (a.ats ? holder(a.device, a.pasid) : 0);
    }
    attachedBits = bits;
    devices = attachments.stream().map(Attachment::device).distinct().toList();
  }
}
