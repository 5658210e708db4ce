package io.iommureplay.detect;

import static java.util.Comparator.comparing;
import static java.util.Comparator.naturalOrder;
import static java.util.Comparator.nullsFirst;

import io.iommureplay.schema.Finding;
import java.util.Comparator;
import java.util.List;

/** The canonical order of findings, so that outputs compare independent of line order. */
public final class FindingOrder {

  /**
   * By host, first time, type, domain, device, IOVA range, second party, then every other field: a
   * total order over the findings' content, so findings that tie are equal, byte for byte.
   * Addresses compare unsigned; absent values come first.
   */
  public static final Comparator<Finding> CANONICAL =
      comparing(Finding::getHost)
          .thenComparingLong(Finding::getFirstNs)
          .thenComparing(Finding::getType)
          .thenComparingLong(Finding::getDomain)
          .thenComparing(Finding::getDevice, nullsFirst(naturalOrder()))
          .thenComparing(Finding::getIovaStart, Long::compareUnsigned)
          .thenComparing(Finding::getIovaEnd, Long::compareUnsigned)
          .thenComparing(Finding::getOtherDomain, nullsFirst(naturalOrder()))
          .thenComparing(Finding::getOtherDevice, nullsFirst(naturalOrder()))
          .thenComparingLong(Finding::getLastNs)
          .thenComparing(Finding::getSeverity)
          .thenComparingLong(Finding::getInstances)
          .thenComparing(Finding::getPhysStart, nullsFirst(Long::compareUnsigned))
          .thenComparing(Finding::getPhysEnd, nullsFirst(Long::compareUnsigned))
          .thenComparing(Finding::getEvidence, FindingOrder::compareEvidence)
          .thenComparing(Finding::getMessage);

  private FindingOrder() {}

  private static int compareEvidence(List<Long> a, List<Long> b) {
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      int order = Long.compare(a.get(i), b.get(i));
      if (order != 0) {
        return order;
      }
    }
    return Integer.compare(a.size(), b.size());
  }
}
