package io.iommureplay.detect;

import io.iommureplay.model.Domain;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.iova.FragmentationSample;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.Severity;
import java.util.HashMap;
import java.util.Map;

/**
 * The allocator detectors (SPEC "Detectors → Allocator fragmentation"): failures that the free
 * space did not justify, an exhausted 32-bit space, and fragmentation that stays high. They read
 * the domain's replayed allocator (iova.c model), which holds the state the kernel failed in.
 */
final class FragmentationDetector implements ModelListener {
  /** The highest pfn a 32-bit DMA mask reaches with 4 KiB pages (dma_32bit_pfn). */
  private static final long DMA_32BIT_PFN = (1L << 32 >>> 12) - 1;

  private final String host;
  private final DetectorConfig config;
  private final Detections out;
  private final Map<Long, Trend> trends = new HashMap<>();

  /** How one domain's fragmentation went lately. */
  private static final class Trend {
    long allocations;
    int highSamples;
    long firstHighNs;
    long firstHighSeq;
    boolean reported;
  }

  FragmentationDetector(String host, DetectorConfig config, Detections out) {
    this.host = host;
    this.config = config;
    this.out = out;
  }

  @Override
  public void iovaAllocationFailed(IommuEvent event, Domain domain, long pages, long limitPfn) {
    FragmentationSample s = domain.iova().allocator().fragmentation(limitPfn);
    boolean below4G = limitPfn <= DMA_32BIT_PFN;
    if (s.freePages() >= pages) {
      out.add(
          start(FindingType.ALLOC_FAILURE_FRAGMENTED, Severity.MEDIUM, event, domain, limitPfn)
              .message(
                  () ->
                      "an allocation of %d pages below pfn 0x%x failed although %d pages were free, in %d holes of at most %d pages (fragmentation %.2f)"
                          .formatted(
                              pages,
                              limitPfn,
                              s.freePages(),
                              s.holes(),
                              s.largestHole(),
                              s.fragmentationIndex()))
              .build());
    } else if (below4G) {
      out.add(
          start(FindingType.IOVA32_EXHAUSTED, Severity.MEDIUM, event, domain, limitPfn)
              .message(
                  () ->
                      "the IOVA space below 4 GiB is exhausted: an allocation of %d pages failed with %d pages free there (%d allocated, %d parked in per-CPU caches)"
                          .formatted(pages, s.freePages(), s.allocatedPages(), s.cachedPages()))
              .build());
    }
  }

  @Override
  public void iovaAllocated(
      IommuEvent event, Domain domain, long kernelPfn, long pages, long modelPfn) {
    Trend trend = trends.computeIfAbsent(domain.id(), d -> new Trend());
    if (++trend.allocations % config.sampleEveryAllocations() != 0) return;
    long limit = ((IovaAllocation) event.getPayload()).getLimitPfn();
    double index = domain.iova().allocator().fragmentation(limit).fragmentationIndex();
    if (index <= config.highFragmentation()) {
      trend.highSamples = 0;
      trend.reported = false;
      return;
    }
    if (trend.highSamples++ == 0) {
      trend.firstHighNs = event.getTsNs();
      trend.firstHighSeq = event.getSeq();
    }
    if (trend.highSamples >= config.sustainedSamples() && !trend.reported) {
      trend.reported = true;
      out.add(
          Detection.builder(FindingType.HIGH_FRAGMENTATION, Severity.MEDIUM)
              .host(host)
              .on(domain.id(), domain.soleDevice())
              .iova(0, (limit + 1) * domain.granule())
              .at(trend.firstHighNs)
              .evidence(trend.firstHighSeq, event.getSeq())
              .message(
                  () ->
                      "the IOVA space stayed fragmented (index %.2f > %.2f) over %d samples of %d allocations each"
                          .formatted(
                              index,
                              config.highFragmentation(),
                              trend.highSamples,
                              config.sampleEveryAllocations()))
              .build());
    }
  }

  private Detection.Builder start(
      FindingType type, Severity severity, IommuEvent event, Domain domain, long limitPfn) {
    return Detection.builder(type, severity)
        .host(host)
        .on(domain.id(), event.getDevice() != null ? event.getDevice() : domain.soleDevice())
        .iova(0, (limitPfn + 1) * domain.granule())
        .at(event.getTsNs())
        .evidence(event.getSeq());
  }
}
