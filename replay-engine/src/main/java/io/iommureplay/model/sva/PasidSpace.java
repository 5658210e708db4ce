package io.iommureplay.model.sva;

import io.iommureplay.model.snapshot.SnapshotInput;
import io.iommureplay.model.snapshot.SnapshotOutput;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Shared virtual addressing: the global PASID space and the bonds of devices to process address
 * spaces (drivers/iommu/iommu-sva.c, ioasid/iommu_alloc_global_pasid()).
 *
 * <p>PASID 0 means none. Global PASIDs are handed out lowest-free from 1 (ida_alloc_range), so a
 * freed PASID is reused at once. An mm gets one PASID on its first bind and keeps it until the mm
 * exits (iommu_sva_bind_device() / mm_pasid_drop()), not until the last unbind. A device may issue
 * DMA or page requests on a PASID only while it is bound and the mm is alive;
 * iommu_sva_unbind_device() requires the device to have stopped and drained them first.
 */
public final class PasidSpace {
  /** Why a use of a PASID is not valid. */
  public enum Problem {
    NEVER_BOUND,
    AFTER_UNBIND,
    AFTER_MM_EXIT,
    AFTER_FREE
  }

  private final BitSet allocated = new BitSet();
  private final Map<Long, Integer> pasidOfMm = new HashMap<>();
  private final Map<Integer, Long> mmOfPasid = new TreeMap<>();

  /** Active bonds, "device pasid". */
  private final TreeSet<String> bonds = new TreeSet<>();

  /** Why a PASID/device pair stopped being usable, for the message of a late use. */
  private final Map<String, Problem> ended = new TreeMap<>();

  /**
   * Binds {@code device} to the mm; returns the mm's PASID, allocating the lowest free one on the
   * mm's first bind. {@code tracedPasid} > 0 is the PASID the trace shows; it is taken as it is
   * (the kernel's word beats the model's guess).
   */
  public int bind(String device, long mmId, int tracedPasid) {
    Integer pasid = pasidOfMm.get(mmId);
    if (pasid == null) {
      pasid = tracedPasid > 0 ? tracedPasid : allocated.nextClearBit(1);
      allocated.set(pasid);
      pasidOfMm.put(mmId, pasid);
      mmOfPasid.put(pasid, mmId);
    }
    bonds.add(key(device, pasid));
    ended.remove(key(device, pasid));
    return pasid;
  }

  /** Whether the mm holds a PASID (from an earlier bind, until it exits). */
  public boolean hasPasid(long mmId) {
    return pasidOfMm.containsKey(mmId);
  }

  /** The lowest PASID the kernel would hand out next. */
  public int nextFreePasid() {
    return allocated.nextClearBit(1);
  }

  public void unbind(String device, int pasid) {
    if (bonds.remove(key(device, pasid))) ended.put(key(device, pasid), Problem.AFTER_UNBIND);
  }

  /** The mm exited: its PASID stays allocated until freed, but no device may use it. */
  public void mmExit(long mmId) {
    Integer pasid = pasidOfMm.remove(mmId);
    if (pasid == null) return;
    mmOfPasid.remove(pasid);
    endBonds(pasid, Problem.AFTER_MM_EXIT);
  }

  public void free(int pasid) {
    allocated.clear(pasid);
    Long mm = mmOfPasid.remove(pasid);
    if (mm != null) pasidOfMm.remove(mm);
    endBonds(pasid, Problem.AFTER_FREE);
  }

  private void endBonds(int pasid, Problem why) {
    String suffix = " " + pasid;
    bonds.removeIf(
        bond -> {
          if (!bond.endsWith(suffix)) return false;
          ended.put(bond, why);
          return true;
        });
  }

  /** Null when {@code device} may use {@code pasid} now, else why not. */
  public Problem checkUse(String device, int pasid) {
    String key = key(device, pasid);
    if (bonds.contains(key)) return null;
    return ended.getOrDefault(key, Problem.NEVER_BOUND);
  }

  private static String key(String device, int pasid) {
    return device + " " + pasid;
  }

  public void save(SnapshotOutput out) {
    out.writeVarInt(mmOfPasid.size());
    mmOfPasid.forEach((pasid, mm) -> out.writeVarInt(pasid).writeLong(mm));
    int[] orphans = allocated.stream().filter(p -> !mmOfPasid.containsKey(p)).toArray();
    out.writeVarInt(orphans.length);
    for (int p : orphans) out.writeVarInt(p);
    out.writeVarInt(bonds.size());
    bonds.forEach(out::writeString);
    out.writeVarInt(ended.size());
    ended.forEach((bond, why) -> out.writeString(bond).writeEnum(why));
  }

  public static PasidSpace restore(SnapshotInput in) {
    PasidSpace s = new PasidSpace();
    for (int i = in.readCount(); i > 0; i--) {
      int pasid = in.readVarInt();
      long mm = in.readLong();
      s.allocated.set(pasid);
      s.mmOfPasid.put(pasid, mm);
      s.pasidOfMm.put(mm, pasid);
    }
    for (int i = in.readCount(); i > 0; i--) s.allocated.set(in.readVarInt());
    for (int i = in.readCount(); i > 0; i--) s.bonds.add(in.readString());
    for (int i = in.readCount(); i > 0; i--)
      s.ended.put(in.readString(), in.readEnum(Problem.class));
    return s;
  }
}
