package io.iommureplay.model.iotlb;

import io.iommureplay.model.iotlb.IotlbListener.Closure;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.FlushTrigger;
import io.iommureplay.schema.IotlbInvalidation;
import java.util.ArrayList;
import java.util.List;

/** Invalidation builders and a listener that writes down what it hears. */
final class IotlbTesting {

  static final long K4 = 4096;
  static final String NIC = "0000:00:04.0";
  static final String NVME = "0000:00:05.0";

  /** PCI_DEVID of {@link #NIC}: bus 0, device 4, function 0. */
  static final int NIC_SID = 4 << 3;

  static final int NVME_SID = 5 << 3;

  private IotlbTesting() {}

  static IotlbInvalidation global() {
    return inv(FlushScope.GLOBAL, 0, 0, -1, false, null, null);
  }

  static IotlbInvalidation domainFlush() {
    return inv(FlushScope.DOMAIN, 0, 0, -1, false, null, null);
  }

  /**
   * A page-selective flush of 2^mask pages at iova aligned down, as QiDescriptorDecoder writes it.
   */
  static IotlbInvalidation psi(long iova, int mask, boolean ih) {
    long size = K4 << mask;
    return inv(FlushScope.PAGE, iova & -size, size, mask, ih, null, null);
  }

  static IotlbInvalidation pasidFlush(int pasid) {
    return inv(FlushScope.PASID, 0, 0, -1, false, pasid, null);
  }

  static IotlbInvalidation pasidPsi(int pasid, long iova, int mask, boolean ih) {
    long size = K4 << mask;
    return inv(FlushScope.PASID_PAGE, iova & -size, size, mask, ih, pasid, null);
  }

  static IotlbInvalidation deviceTlb(Integer sid, long iova, int mask) {
    long size = K4 << mask;
    return inv(FlushScope.DEVICE_TLB, iova & -size, size, mask, false, null, sid);
  }

  static IotlbInvalidation pasidDeviceTlb(Integer sid, int pasid, long iova, int mask) {
    long size = K4 << mask;
    return inv(FlushScope.PASID_DEVICE_TLB, iova & -size, size, mask, false, pasid, sid);
  }

  static IotlbInvalidation inv(
      FlushScope scope, long iova, long size, int mask, boolean ih, Integer pasid, Integer sid) {
    return new IotlbInvalidation(
        scope, iova, size, mask, ih, null, pasid, sid, "dmar0", FlushTrigger.UNKNOWN, List.of());
  }

  /** Open pieces of a window as "0xfirst-0xlast" strings. */
  static List<String> openRanges(IotlbModel model, Window window) {
    List<String> out = new ArrayList<>();
    model.forEachOpenRange(window, (w, first, last) -> out.add("0x%x-0x%x".formatted(first, last)));
    return out;
  }

  /** Writes every callback down as one line. */
  static final class Recorder implements IotlbListener {
    final List<String> events = new ArrayList<>();

    @Override
    public void windowClosed(Window window, long openNs, long seq, Closure cause) {
      events.add("closed %d after %d by %d %s".formatted(window.seq(), openNs, seq, cause));
    }

    @Override
    public void windowPartlyInvalidated(Window window, long missedBytes, long seq) {
      events.add("partly %d missed 0x%x by %d".formatted(window.seq(), missedBytes, seq));
    }

    @Override
    public void tableFlushed(StaleTable table, long cachedNs, long seq) {
      events.add("table %d after %d by %d".formatted(table.seq(), cachedNs, seq));
    }

    List<String> take() {
      List<String> out = List.copyOf(events);
      events.clear();
      return out;
    }
  }
}
