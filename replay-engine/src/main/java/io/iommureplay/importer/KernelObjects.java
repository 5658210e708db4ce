package io.iommureplay.importer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernel objects of one traced host and how they relate, learned while reading its trace.
 *
 * <p>Domains get ids 1, 2, ... in the order they first appear, so the same trace always gives the
 * same ids. A DMA domain is known by its dma-iommu cookie; the kprobes print the cookie (fq_*), the
 * iova_domain inside it (alloc/free/reserve; {@code iovad = cookie + IOVAD_OFFSET}), the generic
 * iommu_domain (intel_flush_iotlb_all, intel_iommu_tlb_sync), the dmar_domain
 * (iommu_flush_iotlb_psi), the flush-queue timer, and the hardware domain id in invalidation
 * descriptors. Only the cookie is tied to the domain by construction; the others are learned from
 * call chains on one CPU (fq_flush_iotlb → intel_flush_iotlb_all → qi_submit).
 */
final class KernelObjects {
  /**
   * Offset of {@code struct iova_domain iovad} in {@code struct iommu_dma_cookie}
   * (drivers/iommu/dma-iommu.c, Linux 5.x–6.x: it follows the 8-byte cookie type field).
   */
  static final long IOVAD_OFFSET = 0x8;

  private final Map<Long, Long> domainByCookie = new HashMap<>();
  private final Map<Long, Long> domainByIommuDomain = new HashMap<>();
  private final Map<Long, Long> domainByDmarDomain = new HashMap<>();
  private final Map<Long, Long> domainByTimer = new HashMap<>();
  private final Map<Integer, Long> domainByHwId = new HashMap<>();
  private final Map<String, Integer> groupByDevice = new HashMap<>();
  private final Map<Integer, Long> domainByGroup = new HashMap<>();
  private final Map<String, Long> domainByDevice = new HashMap<>();
  private final Map<Long, List<String>> devicesByDomain = new HashMap<>();
  private final Map<Long, Long> granuleByDomain = new HashMap<>();
  private long lastDomainId;

  long newDomain() {
    return ++lastDomainId;
  }

  /**
   * The domain whose iova_domain is at {@code iovad}; a domain seen for the first time gets an id.
   */
  long domainOfIovad(long iovad) {
    return domainOfCookie(iovad - IOVAD_OFFSET);
  }

  long domainOfCookie(long cookie) {
    Long domain = domainByCookie.get(cookie);
    if (domain == null) {
      domain = newDomain();
      domainByCookie.put(cookie, domain);
    }
    return domain;
  }

  void bindIovad(long iovad, long domain, long granule) {
    domainByCookie.put(iovad - IOVAD_OFFSET, domain);
    granuleByDomain.put(domain, granule);
  }

  /** Smallest IOMMU page size of the domain: the iova_domain granule, 4 KiB when not seen. */
  long granule(long domain) {
    return granuleByDomain.getOrDefault(domain, 4096L);
  }

  void addToGroup(String device, int group) {
    groupByDevice.put(device, group);
  }

  Integer groupOf(String device) {
    return groupByDevice.get(device);
  }

  /** Records that {@code device} (and its IOMMU group) now uses {@code domain}. */
  void bindDevice(String device, long domain) {
    Long previous = domainByDevice.put(device, domain);
    if (previous != null && previous == domain) return;
    if (previous != null) devicesByDomain.get(previous).remove(device);
    devicesByDomain.computeIfAbsent(domain, d -> new ArrayList<>(2)).add(device);
    Integer group = groupByDevice.get(device);
    if (group != null) domainByGroup.put(group, domain);
  }

  /**
   * The domain a device uses: the one it was bound to, else its group's, else a new one for its
   * group (tracepoint-only traces never show the domain itself). Returns -1 for a null device.
   */
  long domainOfDevice(String device) {
    if (device == null) return -1;
    long domain = boundDomainOfDevice(device);
    if (domain < 0) domain = newDomain();
    bindDevice(device, domain);
    return domain;
  }

  /** The domain a device was bound to or its group uses, -1 when not known yet. */
  long boundDomainOfDevice(String device) {
    Long domain = domainByDevice.get(device);
    if (domain == null) {
      Integer group = groupByDevice.get(device);
      domain = group == null ? null : domainByGroup.get(group);
    }
    return domain == null ? -1 : domain;
  }

  /** The only device using {@code domain}, or null when none or several do. */
  String soleDevice(long domain) {
    List<String> devices = devicesByDomain.get(domain);
    return devices != null && devices.size() == 1 ? devices.get(0) : null;
  }

  void learnIommuDomain(long pointer, long domain) {
    if (domain >= 0) domainByIommuDomain.put(pointer, domain);
  }

  long domainOfIommuDomain(long pointer) {
    return domainByIommuDomain.getOrDefault(pointer, -1L);
  }

  void learnDmarDomain(long pointer, long domain) {
    if (domain >= 0) domainByDmarDomain.put(pointer, domain);
  }

  long domainOfDmarDomain(long pointer) {
    return domainByDmarDomain.getOrDefault(pointer, -1L);
  }

  void learnTimer(long timer, long domain) {
    if (domain >= 0) domainByTimer.put(timer, domain);
  }

  long domainOfTimer(long timer) {
    return domainByTimer.getOrDefault(timer, -1L);
  }

  void learnHwDomainId(int did, long domain) {
    if (domain >= 0) domainByHwId.put(did, domain);
  }

  long domainOfHwId(int did) {
    return domainByHwId.getOrDefault(did, -1L);
  }
}
