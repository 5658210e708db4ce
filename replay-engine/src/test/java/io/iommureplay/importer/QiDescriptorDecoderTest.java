package io.iommureplay.importer;

import static io.iommureplay.schema.FlushScope.DEVICE_TLB;
import static io.iommureplay.schema.FlushScope.DOMAIN;
import static io.iommureplay.schema.FlushScope.GLOBAL;
import static io.iommureplay.schema.FlushScope.PAGE;
import static io.iommureplay.schema.FlushScope.PASID;
import static io.iommureplay.schema.FlushScope.PASID_DEVICE_TLB;
import static io.iommureplay.schema.FlushScope.PASID_PAGE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.importer.QiDescriptorDecoder.Decoded;
import io.iommureplay.importer.QiDescriptorDecoder.Flush;
import io.iommureplay.importer.QiDescriptorDecoder.MalformedException;
import io.iommureplay.importer.QiDescriptorDecoder.Other;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.QiDescriptor;
import java.util.List;
import java.util.Optional;
import org.assertj.core.api.AbstractListAssert;
import org.assertj.core.api.ObjectAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QiDescriptorDecoderTest {

  // ---- iotlb_inv (type 2) ----

  @Test
  void globalIotlbFromTheTraces() {
    // "iotlb_inv dmar0: 0xd2 0x0 0x0 0x0": 0xd2 = 1101_0010b: type 3:0 = 2, granularity 5:4 = 01
    // (global),
    // DW bit 6 and DR bit 7 set. A global flush names no domain and no range.
    IotlbInvalidation inv = flush("iotlb_inv", 0xd2, 0);
    assertFields(inv).containsExactly(GLOBAL, 0L, 0L, -1, false, null, null, null);
    assertThat(inv.getIommu()).isEqualTo("dmar0");
    assertThat(inv.getTrigger()).isEqualTo(FlushTrigger.UNKNOWN);
    assertThat(inv.getDescriptor()).containsExactly(0xd2L, 0L, 0L, 0L);
  }

  @Test
  void domainSelectiveIotlbFromTheTraces() {
    // "iotlb_inv dmar0: 0x500e2 0x0 0x0 0x0": DID = bits 31:16 = 5; 0xe2 = 1110_0010b: granularity
    // 10b = domain.
    assertFields(flush("iotlb_inv", 0x500e2, 0))
        .containsExactly(DOMAIN, 0L, 0L, -1, false, 5, null, null);
  }

  @ParameterizedTest(name = "iotlb_inv dmar0: {0} {1}")
  @CsvSource({
    // qw0 0x?00f2: DID ?, 0xf2 = 1111_0010b = page-selective with DW|DR. qw1: ADDR | AM (bits 5:0).
    // AM 0: one 4 KiB page.
    "0x300f2, 0xffffa000, 3, 0, 0xffffa000, 0x1000",
    // AM 4: 2^4 = 16 pages = 0x10000 bytes; 0xfffc0000 is already 64 KiB aligned.
    "0x400f2, 0xfffc0004, 4, 4, 0xfffc0000, 0x10000",
    // AM 3: 8 pages = 0x8000 bytes; 0xffd08000 & 0x7fff = 0, aligned.
    "0x300f2, 0xffd08003, 3, 3, 0xffd08000, 0x8000",
    // AM 8: 256 pages = 1 MiB at 0xffc00000.
    "0x300f2, 0xffc00008, 3, 8, 0xffc00000, 0x100000",
  })
  void pageSelectiveIotlbFromTheTraces(
      String qw0, String qw1, int did, int am, String iova, String size) {
    assertFields(flush("iotlb_inv", Long.decode(qw0), Long.decode(qw1)))
        .containsExactly(PAGE, Long.decode(iova), Long.decode(size), am, false, did, null, null);
  }

  @Test
  void pageSelectiveBaseIsAlignedDownToTheMask() {
    // qw1 = 0x12345000 | AM 3: 2^3 pages = 0x8000 bytes, so the hardware ignores ADDR bits 14:12
    // and flushes
    // 0x12345000 & ~0x7fff = 0x12340000 .. 0x12347fff, which contains the page at 0x12345000.
    assertFields(flush("iotlb_inv", 0x300f2, 0x12345003L))
        .containsExactly(PAGE, 0x12340000L, 0x8000L, 3, false, 3, null, null);
  }

  @Test
  void invalidationHintMakesItLeafOnly() {
    // qw1 = 0xabc00000 | IH (bit 6, 0x40) | AM 9: 512 pages = 2 MiB; 0xabc00000 = 0x55e * 0x200000,
    // aligned.
    assertFields(flush("iotlb_inv", 0x700f2, 0xabc00049L))
        .containsExactly(PAGE, 0xabc00000L, 0x200000L, 9, true, 7, null, null);
  }

  @Test
  void reservedIotlbGranularityIsMalformed() {
    // 0xc2: granularity bits 5:4 = 00, reserved.
    assertThatThrownBy(() -> decode("iotlb_inv", 0xc2, 0))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("granularity 0");
  }

  // ---- dev_tlb_inv (type 3) ----

  @Test
  void deviceTlbSinglePage() {
    // qw0 = SID 0x28 (00:05.0: devfn 5 << 3) in bits 47:32 | type 3. qw1 = ADDR 0x7f001000, S (bit
    // 0) = 0:
    // exactly one page.
    assertFields(flush("dev_tlb_inv", 0x28_0000_0003L, 0x7f001000L))
        .containsExactly(DEVICE_TLB, 0x7f001000L, 0x1000L, 0, false, null, null, 0x28);
  }

  @Test
  void deviceTlbSizeIsTheLowestZeroAddressBit() {
    // qi_desc_dev_iotlb for 8 pages (mask 3) at 0x7f000000 ORs in (1 << (12 + 3 - 1)) - 1 = 0x3fff
    // and S:
    // qw1 = 0x7f003001. ADDR >> 12 = 0x7f003 ends in binary ...0011: k = 2 ones from bit 12, then a
    // zero, so
    // 2^(k+1) = 8 pages = 0x8000 bytes at 0x7f003000 & ~0x7fff = 0x7f000000.
    assertFields(flush("dev_tlb_inv", 0x28_0000_0003L, 0x7f003001L))
        .containsExactly(DEVICE_TLB, 0x7f000000L, 0x8000L, 3, false, null, null, 0x28);
  }

  @Test
  void deviceTlbOfTheWholeAddressSpace() {
    // cache_tag_flush_all: qi_flush_dev_iotlb(addr 0, mask MAX_AGAW_PFN_WIDTH = 52) sets bits
    // 62:12; bit 63 is
    // the lowest zero, k = 51, so 2^52 pages = 2^64 bytes: base 0, size wraps to 0.
    assertFields(flush("dev_tlb_inv", 0x28_0000_0003L, 0x7fff_ffff_ffff_f001L))
        .containsExactly(DEVICE_TLB, 0L, 0L, 52, false, null, null, 0x28);
  }

  @Test
  void deviceTlbWithAllAddressBitsSetIsMalformed() {
    // S = 1 but ADDR bits 63:12 has no zero bit: no size is encoded.
    assertThatThrownBy(() -> decode("dev_tlb_inv", 0x28_0000_0003L, 0xffff_ffff_ffff_f001L))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("larger than the 64-bit space");
  }

  // ---- p_iotlb_inv (type 6) and p_dev_tlb_inv (type 8) ----

  @Test
  void pasidSelectiveIotlb() {
    // qw0 = PASID 0x1234 (bits 51:32) | DID 7 (31:16) | granularity 2 (0x20, QI_GRAN_NONG_PASID) |
    // type 6.
    assertFields(flush("p_iotlb_inv", 0x1234_0007_0026L, 0))
        .containsExactly(PASID, 0L, 0L, -1, false, 7, 0x1234, null);
  }

  @Test
  void pageSelectiveWithinPasidIotlb() {
    // Granularity 3 (0x30, QI_GRAN_PSI_PASID). qw1 = 0x7f1234567000 | IH 0x40 | AM 2: 4 pages =
    // 0x4000 bytes
    // at 0x7f1234567000 & ~0x3fff = 0x7f1234564000.
    assertFields(flush("p_iotlb_inv", 0x1234_0007_0036L, 0x7f12_3456_7042L))
        .containsExactly(PASID_PAGE, 0x7f12_3456_4000L, 0x4000L, 2, true, 7, 0x1234, null);
  }

  @Test
  void pasidIotlbGranularityLinuxDoesNotSubmitIsMalformed() {
    assertThatThrownBy(() -> decode("p_iotlb_inv", 0x1234_0007_0016L, 0))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("granularity 1");
  }

  @Test
  void pasidDeviceTlb() {
    // qw0 = PASID 0x1234 (51:32) | SID 0x28 (31:16) | type 8. qi_desc_dev_iotlb_pasid for 4 pages
    // (order 2) at
    // 0x7f1234564000: sets bits 13:12 (0x3000), clears bit 13 (the size bit, 0x2000), sets S (bit
    // 11, 0x800):
    // qw1 = 0x7f1234565800. ADDR >> 12 ends in ...0101: k = 1, 2^(k+1) = 4 pages at 0x7f1234564000.
    assertFields(flush("p_dev_tlb_inv", 0x1234_0028_0008L, 0x7f12_3456_5800L))
        .containsExactly(
            PASID_DEVICE_TLB, 0x7f12_3456_4000L, 0x4000L, 2, false, null, 0x1234, 0x28);
  }

  @Test
  void pasidDeviceTlbSinglePage() {
    // S (bit 11) clear: one page; the low bits 11:0 are not part of ADDR.
    assertFields(flush("p_dev_tlb_inv", 0x1234_0028_0008L, 0x7f12_3456_5000L))
        .containsExactly(
            PASID_DEVICE_TLB, 0x7f12_3456_5000L, 0x1000L, 0, false, null, 0x1234, 0x28);
  }

  // ---- descriptors that invalidate no translations ----

  @Test
  void globalContextCacheFromTheTraces() {
    // "cc_inv dmar0: 0x11 0x0 0x0 0x0": type 1, granularity 01b = global, so no domain.
    assertThat(other("cc_inv", 0x11))
        .isEqualTo(new QiDescriptor("cc_inv", "dmar0", 1, null, List.of(0x11L, 0L, 0L, 0L)));
  }

  @Test
  void domainSelectiveContextCacheNamesTheDomain() {
    // DID 3 in bits 31:16, granularity 2 (0x20) = domain-selective, type 1.
    QiDescriptor d = other("cc_inv", 0x30021);
    assertThat(d.getGranularity()).isEqualTo(2);
    assertThat(d.getHwDomainId()).isEqualTo(3);
  }

  @Test
  void interruptEntryCacheFromTheTraces() {
    // "iec_inv dmar0: 0x1b00000014 ...": type 4, bit 4 = index-selective (granularity 1), index
    // 0x1b in 47:32.
    QiDescriptor d = other("iec_inv", 0x1b_0000_0014L);
    assertThat(d.getGranularity()).isEqualTo(1);
    assertThat(d.getHwDomainId()).isNull();
  }

  @Test
  void pasidCacheNamesTheDomain() {
    // PASID 0x1234, DID 7, granularity 1 = QI_PC_PASID_SEL, type 7.
    assertThat(other("pc_inv", 0x1234_0007_0017L).getHwDomainId()).isEqualTo(7);
  }

  // ---- type checks ----

  @Test
  void nameThatDisagreesWithTheTypeIsMalformed() {
    assertThatThrownBy(() -> decode("iotlb_inv", 0x11, 0))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("line says iotlb_inv")
        .hasMessageContaining("type 1 (cc_inv)");
  }

  @Test
  void highTypeBitsAreNotIgnored() {
    // 0x2f2: bits 3:0 = 2, so the kernel prints iotlb_inv, but bit 9 (type bit 4) makes it type
    // 0x12.
    assertThatThrownBy(() -> decode("iotlb_inv", 0x2f2, 0))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("type 0x12");
  }

  // ---- cache_tag_flush_* (Linux 6.10+) ----

  @Test
  void rangeFlushOfAnIotlbTag() {
    // calculate_psi_aligned_address(0x3000, 0x4fff): 2 pages from pfn 3; rounded to 2 pages (mask
    // 1) pfn 3 is
    // not aligned, so shared_bits = ~(3 ^ 4) & ~1 = ...11111000b and mask = __ffs = 3: 8 pages from
    // 0x0.
    assertFields(
            cacheTag(
                "cache_tag_flush_range",
                "dmar0 dmar0[0] type iotlb did 3 [0x3000-0x4fff] addr 0x0 pages 0x8 mask 0x3"))
        .containsExactly(PAGE, 0L, 0x8000L, 3, false, 3, null, null);
  }

  @Test
  void rangeFlushOfAPasidTagIsPasidBased() {
    assertFields(
            cacheTag(
                "cache_tag_flush_range",
                "dmar1 dmar1[5] type iotlb did 9 [0x7f1234564000-0x7f1234567fff] "
                    + "addr 0x7f1234564000 pages 0x4 mask 0x2"))
        .containsExactly(PASID_PAGE, 0x7f12_3456_4000L, 0x4000L, 2, false, 9, 5, null);
  }

  @Test
  void rangeFlushOfADeviceTlbTagNamesTheDevice() {
    // Device 0000:00:05.0 = bus 0, devfn 5 << 3 | 0 = 0x28. A PASID tag takes
    // qi_flush_dev_iotlb_pasid.
    IotlbInvalidation inv =
        cacheTag(
            "cache_tag_flush_range",
            "dmar1 0000:00:05.0[5] type devtlb did 9 [0x7f1234564000-0x7f1234567fff] "
                + "addr 0x7f1234564000 pages 0x4 mask 0x2");
    assertFields(inv)
        .containsExactly(PASID_DEVICE_TLB, 0x7f12_3456_4000L, 0x4000L, 2, false, null, 5, 0x28);
    assertThat(inv.getIommu()).isEqualTo("dmar1");
    assertThat(inv.getDescriptor()).isEmpty();
  }

  @Test
  void rangeFlushOfANestingDeviceTlbCoversEverything() {
    // cache_tag_flush_range sets addr 0 and mask MAX_AGAW_PFN_WIDTH (0x34 = 52) before tracing it.
    assertFields(
            cacheTag(
                "cache_tag_flush_range",
                "dmar0 0000:3a:00.1[0] type nesting_devtlb did 2 [0x1000-0x1fff] addr 0x0 pages 0x1 mask 0x34"))
        .containsExactly(DEVICE_TLB, 0L, 0L, 52, false, null, null, 0x3a01);
  }

  @Test
  void nonPresentRangeFlushesOnlyIotlbs() {
    assertFields(
            cacheTag(
                "cache_tag_flush_range_np",
                "dmar0 dmar0[0] type iotlb did 3 [0xfffde000-0xfffdffff] addr 0xfffde000 pages 0x2 mask 0x1"))
        .containsExactly(PAGE, 0xfffde000L, 0x2000L, 1, false, 3, null, null);
    assertThat(
            QiDescriptorDecoder.decodeCacheTagFlush(
                "cache_tag_flush_range_np",
                "dmar0 0000:00:05.0[0] type devtlb did 3 [0xfffde000-0xfffdffff] addr 0xfffde000 pages 0x2 mask 0x1"))
        .isEmpty();
  }

  @Test
  void flushAllOfAnIotlbTagIsADomainFlush() {
    assertFields(cacheTag("cache_tag_flush_all", "dmar0/dmar0 type iotlb did 3 pasid 0 ref 1"))
        .containsExactly(DOMAIN, 0L, 0L, -1, false, 3, null, null);
    assertFields(
            cacheTag("cache_tag_flush_all", "dmar0/dmar0 type nesting_iotlb did 3 pasid 2 ref 1"))
        .containsExactly(PASID, 0L, 0L, -1, false, 3, 2, null);
  }

  @Test
  void flushAllOfADeviceTlbTagCoversItsWholeTlb() {
    assertFields(
            cacheTag("cache_tag_flush_all", "dmar0/0000:00:05.0 type devtlb did 3 pasid 0 ref 1"))
        .containsExactly(DEVICE_TLB, 0L, 0L, 52, false, null, null, 0x28);
  }

  @Test
  void malformedCacheTagLinesSayWhatIsWrong() {
    assertThatThrownBy(
            () ->
                QiDescriptorDecoder.decodeCacheTagFlush(
                    "cache_tag_flush_range",
                    "dmar0 dmar0[0] type iotlb did 3 [0x3000-0x4fff] addr 0x0 pages 0x8"))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("expected ' mask ' at offset 66");
    assertThatThrownBy(
            () ->
                QiDescriptorDecoder.decodeCacheTagFlush(
                    "cache_tag_flush_all", "dmar0/dmar0 type 0x7 did 3 pasid 0 ref 1"))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("one of iotlb, devtlb");
    assertThatThrownBy(
            () ->
                QiDescriptorDecoder.decodeCacheTagFlush(
                    "cache_tag_flush_all", "dmar0/dmar0 type iotlb did x pasid 0 ref 1"))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("expected a decimal int at offset 27");
    assertThatThrownBy(
            () ->
                QiDescriptorDecoder.decodeCacheTagFlush(
                    "cache_tag_flush_range",
                    "dmar0 dmar0[0] type iotlb did 3 [0x0-0xfff] addr 0x0 pages 0x1 mask 0x35"))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("2^53 pages");
    assertThatThrownBy(
            () ->
                QiDescriptorDecoder.decodeCacheTagFlush(
                    "cache_tag_flush_all", "dmar0/dmar0 type iotlb did 3 pasid 0 ref 1 extra"))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("expected end of line");
    assertThatThrownBy(() -> QiDescriptorDecoder.decodeCacheTagFlush("cache_tag_assign", ""))
        .isInstanceOf(MalformedException.class)
        .hasMessageContaining("not a cache_tag_flush event");
  }

  // ---- helpers ----

  private static Decoded decode(String kind, long qw0, long qw1) {
    return QiDescriptorDecoder.decode(kind, "dmar0", qw0, qw1, 0, 0);
  }

  private static IotlbInvalidation flush(String kind, long qw0, long qw1) {
    Decoded d = decode(kind, qw0, qw1);
    assertThat(d).isInstanceOf(Flush.class);
    return ((Flush) d).invalidation();
  }

  private static QiDescriptor other(String kind, long qw0) {
    Decoded d = decode(kind, qw0, 0);
    assertThat(d).isInstanceOf(Other.class);
    return ((Other) d).descriptor();
  }

  private static IotlbInvalidation cacheTag(String event, String body) {
    Optional<IotlbInvalidation> inv = QiDescriptorDecoder.decodeCacheTagFlush(event, body);
    assertThat(inv).isPresent();
    return inv.get();
  }

  /** scope, iova, size, addressMask, leafOnly, hwDomainId, pasid, sourceId. */
  private static AbstractListAssert<?, List<?>, Object, ObjectAssert<Object>> assertFields(
      IotlbInvalidation inv) {
    return assertThat(inv)
        .extracting(
            IotlbInvalidation::getScope,
            IotlbInvalidation::getIova,
            IotlbInvalidation::getSize,
            IotlbInvalidation::getAddressMask,
            IotlbInvalidation::getLeafOnly,
            IotlbInvalidation::getHwDomainId,
            IotlbInvalidation::getPasid,
            IotlbInvalidation::getSourceId);
  }
}
