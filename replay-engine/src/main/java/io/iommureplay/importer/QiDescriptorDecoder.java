package io.iommureplay.importer;

import static io.iommureplay.schema.FlushScope.DEVICE_TLB;
import static io.iommureplay.schema.FlushScope.DOMAIN;
import static io.iommureplay.schema.FlushScope.GLOBAL;
import static io.iommureplay.schema.FlushScope.PAGE;
import static io.iommureplay.schema.FlushScope.PASID;
import static io.iommureplay.schema.FlushScope.PASID_DEVICE_TLB;
import static io.iommureplay.schema.FlushScope.PASID_PAGE;

import io.iommureplay.model.PciRequesterId;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.QiDescriptor;
import java.util.List;
import java.util.Optional;

/**
 * Decodes Intel VT-d queued-invalidation descriptors as the {@code intel_iommu:qi_submit}
 * tracepoint prints them, and the {@code intel_iommu:cache_tag_flush_*} tracepoints (Linux 6.10+),
 * into the exact range each invalidation covers.
 *
 * <p>Bit positions follow the QI_* macros of drivers/iommu/intel/iommu.h and the descriptor
 * builders qi_desc_iotlb, qi_desc_dev_iotlb, qi_desc_piotlb and qi_desc_dev_iotlb_pasid (iommu.h;
 * in older kernels the same code sits in dmar.c's qi_flush_*). A range is 2^order 4 KiB pages at a
 * base aligned to that size; sizes are unsigned, and order 52 (MAX_AGAW_PFN_WIDTH) covers the whole
 * 64-bit space, so its size wraps to 0.
 */
public final class QiDescriptorDecoder {

  /** What a descriptor decodes to. */
  public sealed interface Decoded permits Flush, Other {}

  /** A descriptor that invalidates IO translations: the payload of an IOTLB_FLUSH event. */
  public record Flush(IotlbInvalidation invalidation) implements Decoded {}

  /** Any other descriptor: the payload of a QI_DESCRIPTOR event. */
  public record Other(QiDescriptor descriptor) implements Decoded {}

  /** The line cannot be what the kernel printed; the message says what is wrong. */
  public static final class MalformedException extends IllegalArgumentException {
    MalformedException(String message) {
      super(message);
    }
  }

  private static final int CC = 1;
  private static final int IOTLB = 2;
  private static final int DEV_IOTLB = 3;
  private static final int PIOTLB = 6;
  private static final int PC = 7;
  private static final int DEV_PIOTLB = 8;

  /** Names trace.h prints for QI_CC_TYPE..QI_PGRP_RESP_TYPE. */
  private static final String[] NAMES = {
    null,
    "cc_inv",
    "iotlb_inv",
    "dev_tlb_inv",
    "iec_inv",
    "inv_wait",
    "p_iotlb_inv",
    "pc_inv",
    "p_dev_tlb_inv",
    "page_grp_resp"
  };

  /** enum cache_tag_type in iommu.h order; odd entries are device TLBs. */
  private static final String[] TAG_TYPES = {"iotlb", "devtlb", "nesting_iotlb", "nesting_devtlb"};

  private static final int PAGE_SHIFT = 12; // VTD_PAGE_SHIFT
  private static final long PAGE_SIZE = 1L << PAGE_SHIFT;
  private static final int MAX_ORDER = 64 - PAGE_SHIFT; // MAX_AGAW_PFN_WIDTH
  private static final int NO_PASID = 0; // IOMMU_NO_PASID

  private QiDescriptorDecoder() {}

  /**
   * Decodes one {@code qi_submit} line: {@code kindName iommu: qw0 qw1 qw2 qw3}.
   *
   * @throws MalformedException if qw0 holds a type Linux does not submit (the type is bits 3:0 plus
   *     11:9, but trace.h names bits 3:0 only), a type other than {@code kindName}, or a reserved
   *     granularity
   */
  public static Decoded decode(
      String kindName, String iommu, long qw0, long qw1, long qw2, long qw3) {
    int type = bits(qw0, 3, 0) | bits(qw0, 11, 9) << 4;
    if (type >= NAMES.length || NAMES[type] == null) {
      throw new MalformedException(
          String.format(
              "qw0 0x%x has descriptor type 0x%x, which Linux does not submit", qw0, type));
    }
    if (!NAMES[type].equals(kindName)) {
      throw new MalformedException(
          String.format(
              "line says %s but qw0 0x%x has type %d (%s)", kindName, qw0, type, NAMES[type]));
    }
    List<Long> raw = List.of(qw0, qw1, qw2, qw3);
    int gran = bits(qw0, 5, 4);
    return switch (type) {
      // QI_IOTLB_GRAN 5:4, QI_IOTLB_DW 6, QI_IOTLB_DR 7, QI_IOTLB_DID 31:16;
      // qw1: QI_IOTLB_AM 5:0, QI_IOTLB_IH 6, QI_IOTLB_ADDR 63:12
      case IOTLB ->
          new Flush(
              switch (gran) {
                case 1 -> whole(GLOBAL, null, null, iommu, raw);
                case 2 -> whole(DOMAIN, bits(qw0, 31, 16), null, iommu, raw);
                case 3 ->
                    range(
                        PAGE,
                        qw1,
                        bits(qw1, 5, 0),
                        bit(qw1, 6),
                        bits(qw0, 31, 16),
                        null,
                        null,
                        iommu,
                        raw);
                default ->
                    throw new MalformedException(
                        "iotlb_inv granularity 0 is reserved: 0x" + Long.toHexString(qw0));
              });
      // QI_DEV_IOTLB_SID 47:32 (QDEP 20:16 and PFSID 15:12|63:52 are not kept); qw1:
      // QI_DEV_IOTLB_SIZE bit 0
      case DEV_IOTLB ->
          new Flush(
              range(
                  DEVICE_TLB,
                  qw1,
                  deviceTlbOrder(qw1, 0),
                  false,
                  null,
                  null,
                  bits(qw0, 47, 32),
                  iommu,
                  raw));
      // QI_EIOTLB_GRAN 5:4 (QI_GRAN_NONG_PASID 2, QI_GRAN_PSI_PASID 3), QI_EIOTLB_DID 31:16,
      // QI_EIOTLB_PASID 51:32; qw1 as for iotlb_inv
      case PIOTLB ->
          new Flush(
              switch (gran) {
                case 2 -> whole(PASID, bits(qw0, 31, 16), bits(qw0, 51, 32), iommu, raw);
                case 3 ->
                    range(
                        PASID_PAGE,
                        qw1,
                        bits(qw1, 5, 0),
                        bit(qw1, 6),
                        bits(qw0, 31, 16),
                        bits(qw0, 51, 32),
                        null,
                        iommu,
                        raw);
                default ->
                    throw new MalformedException(
                        "p_iotlb_inv granularity "
                            + gran
                            + " is not one Linux submits: 0x"
                            + Long.toHexString(qw0));
              });
      // QI_DEV_EIOTLB_SID 31:16, QI_DEV_EIOTLB_PASID 51:32; qw1: QI_DEV_EIOTLB_SIZE bit 11. Bit 0
      // was the
      // global flag (QI_DEV_EIOTLB_GLOB), reserved since VT-d 3.0; it stays in the raw descriptor
      // only.
      case DEV_PIOTLB ->
          new Flush(
              range(
                  PASID_DEVICE_TLB,
                  qw1,
                  deviceTlbOrder(qw1, 11),
                  false,
                  null,
                  bits(qw0, 51, 32),
                  bits(qw0, 31, 16),
                  iommu,
                  raw));
      // QI_CC_DID / QI_PC_DID 31:16 name a domain for domain- and device-selective context-cache
      // flushes
      // (granularity 2, 3) and for all-PASID and PASID-selective PASID-cache flushes
      // (QI_PC_ALL_PASIDS 0,
      // QI_PC_PASID_SEL 1)
      default ->
          new Other(
              new QiDescriptor(
                  kindName,
                  iommu,
                  gran,
                  type == CC && gran >= 2 || type == PC && gran <= 1 ? bits(qw0, 31, 16) : null,
                  raw));
    };
  }

  /**
   * Decodes the body of a {@code cache_tag_flush_range}, {@code cache_tag_flush_range_np} or {@code
   * cache_tag_flush_all} line (the text after {@code "event: "}) into the flush the driver issued
   * for that cache tag (drivers/iommu/intel/cache.c).
   *
   * <p>The line does not tell everything: IH is not printed (leafOnly is false); an IOTLB range
   * flush may have fallen back to a domain flush when the mask exceeded the unit's MAMV (the range
   * given is then a subset); and whether the domain uses first-level tables. A tag with a PASID is
   * taken as first-level (SVA), flushed per PASID; a tag without one as flushed by domain id.
   *
   * @return empty for a {@code cache_tag_flush_range_np} device-TLB tag, which is traced but not
   *     flushed
   * @throws MalformedException naming the first field that does not match the format in trace.h
   */
  public static Optional<IotlbInvalidation> decodeCacheTagFlush(String event, String body) {
    Cursor c = new Cursor(body);
    return switch (event) {
      case "cache_tag_flush_range" -> flushRange(c, false);
      case "cache_tag_flush_range_np" -> flushRange(c, true);
      case "cache_tag_flush_all" -> Optional.of(flushAll(c));
      default -> throw new MalformedException("not a cache_tag_flush event: " + event);
    };
  }

  /**
   * {@code "%s %s[%d] type %s did %d [0x%lx-0x%lx] addr 0x%lx pages 0x%lx mask 0x%lx"} (class
   * cache_tag_flush).
   */
  private static Optional<IotlbInvalidation> flushRange(Cursor c, boolean np) {
    String iommu = c.textUpTo(" ");
    c.expect(" ");
    int dev = c.skipTo("[");
    int rid = PciRequesterId.of(c.s, dev, c.pos);
    Integer sid = rid == PciRequesterId.NONE ? null : rid;
    c.expect("[");
    int pasid = c.dec();
    c.expect("] type ");
    int tag = c.oneOf(TAG_TYPES);
    c.expect(" did ");
    int did = c.dec();
    c.expect(" [");
    c.hex(); // start and end: the range asked for; addr and mask say what was flushed
    c.expect("-");
    c.hex();
    c.expect("] addr ");
    long addr = c.hex();
    c.expect(" pages ");
    c.hex();
    c.expect(" mask ");
    long mask = c.hex();
    c.end();
    Integer byPasid = pasid == NO_PASID ? null : pasid;
    if (tag % 2 == 1) {
      // range_np flushes only IOTLBs; a nesting_devtlb tag arrives here with addr 0 and mask
      // MAX_AGAW_PFN_WIDTH already (cache_tag_flush_range)
      return np
          ? Optional.empty()
          : Optional.of(
              range(
                  byPasid == null ? DEVICE_TLB : PASID_DEVICE_TLB,
                  addr,
                  mask,
                  false,
                  null,
                  byPasid,
                  sid,
                  iommu,
                  List.of()));
    }
    // range_np runs only for second-level domains under caching mode: always a domain-id flush
    return Optional.of(
        np || byPasid == null
            ? range(PAGE, addr, mask, false, did, null, null, iommu, List.of())
            : range(PASID_PAGE, addr, mask, false, did, byPasid, null, iommu, List.of()));
  }

  /** {@code "%s/%s type %s did %d pasid %d ref %d"} (class cache_tag_log). */
  private static IotlbInvalidation flushAll(Cursor c) {
    String iommu = c.textUpTo("/");
    c.expect("/");
    int dev = c.skipTo(" type ");
    int rid = PciRequesterId.of(c.s, dev, c.pos);
    Integer sid = rid == PciRequesterId.NONE ? null : rid;
    c.expect(" type ");
    int tag = c.oneOf(TAG_TYPES);
    c.expect(" did ");
    int did = c.dec();
    c.expect(" pasid ");
    int pasid = c.dec();
    c.expect(" ref ");
    c.dec();
    c.end();
    if (tag % 2
        == 1) { // qi_flush_dev_iotlb(..., 0, MAX_AGAW_PFN_WIDTH), without PASID even for a PASID
      // tag
      return range(DEVICE_TLB, 0, MAX_ORDER, false, null, null, sid, iommu, List.of());
    }
    return pasid == NO_PASID
        ? whole(DOMAIN, did, null, iommu, List.of())
        : whole(PASID, did, pasid, iommu, List.of());
  }

  /** A flush of 2^order pages at addr aligned down to that size. */
  private static IotlbInvalidation range(
      FlushScope scope,
      long addr,
      long order,
      boolean leafOnly,
      Integer did,
      Integer pasid,
      Integer sid,
      String iommu,
      List<Long> raw) {
    if (order < 0 || order > MAX_ORDER) {
      throw new MalformedException(
          scope
              + " flush of 2^"
              + Long.toUnsignedString(order)
              + " pages is larger than the 64-bit space");
    }
    long size = PAGE_SIZE << order; // wraps to 0 at MAX_ORDER
    return new IotlbInvalidation(
        scope,
        addr & -size,
        size,
        (int) order,
        leafOnly,
        did,
        pasid,
        sid,
        iommu,
        FlushTrigger.UNKNOWN,
        raw);
  }

  /** A flush of everything in its scope: no address, no mask. */
  private static IotlbInvalidation whole(
      FlushScope scope, Integer did, Integer pasid, String iommu, List<Long> raw) {
    return new IotlbInvalidation(
        scope, 0L, 0L, -1, false, did, pasid, null, iommu, FlushTrigger.UNKNOWN, raw);
  }

  /**
   * Size order of a device-TLB invalidation. S=0: one page. S=1: the lowest zero bit of ADDR (bits
   * 63:12), after k ones from bit 12, means 2^(k+1) pages; qi_desc_dev_iotlb and
   * qi_desc_dev_iotlb_pasid set the bits below it. All ones gives MAX_ORDER + 1, which {@link
   * #range} rejects.
   */
  private static int deviceTlbOrder(long qw1, int sizeBit) {
    return bit(qw1, sizeBit) ? Long.numberOfTrailingZeros(~(qw1 >>> PAGE_SHIFT)) + 1 : 0;
  }

  private static int bits(long word, int hi, int lo) {
    return (int) (word >>> lo & (1L << hi - lo + 1) - 1);
  }

  private static boolean bit(long word, int n) {
    return (word >>> n & 1) != 0;
  }

  /** Reads a trace body left to right; a failure names what was expected and at which offset. */
  private static final class Cursor {
    final String s;
    int pos;

    Cursor(String s) {
      this.s = s;
    }

    void expect(String literal) {
      if (!s.startsWith(literal, pos)) {
        throw fail("'" + literal + "'");
      }
      pos += literal.length();
    }

    /** Moves to the next {@code literal} and returns where the skipped text began. */
    int skipTo(String literal) {
      int at = s.indexOf(literal, pos);
      if (at < 0) {
        throw fail("text followed by '" + literal + "'");
      }
      int from = pos;
      pos = at;
      return from;
    }

    String textUpTo(String literal) {
      int from = skipTo(literal);
      return s.substring(from, pos);
    }

    int oneOf(String[] words) {
      for (int i = 0; i < words.length; i++) {
        if (s.startsWith(words[i], pos)) {
          pos += words[i].length();
          return i;
        }
      }
      throw fail("one of " + String.join(", ", words));
    }

    int dec() {
      int from = pos;
      if (pos < s.length() && s.charAt(pos) == '-') {
        pos++;
      }
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        pos++;
      }
      try {
        return Integer.parseInt(s, from, pos, 10);
      } catch (NumberFormatException e) {
        pos = from;
        throw fail("a decimal int");
      }
    }

    long hex() {
      expect("0x");
      int from = pos;
      while (pos < s.length() && Character.digit(s.charAt(pos), 16) >= 0) {
        pos++;
      }
      try {
        return Long.parseUnsignedLong(s, from, pos, 16);
      } catch (NumberFormatException e) {
        pos = from;
        throw fail("a 64-bit hex number");
      }
    }

    void end() {
      if (pos != s.length()) {
        throw fail("end of line");
      }
    }

    MalformedException fail(String expected) {
      return new MalformedException("expected " + expected + " at offset " + pos + " of: " + s);
    }
  }
}
