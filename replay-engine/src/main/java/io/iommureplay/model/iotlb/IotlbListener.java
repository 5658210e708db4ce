package io.iommureplay.model.iotlb;

/**
 * Observes windows and stale tables closing, so detectors need nothing of the model's internals.
 * Called synchronously from {@link IotlbModel} methods, windows in address order of their first
 * piece met. A listener may query the model but must not change it.
 */
public interface IotlbListener {

  /** Ignores everything. */
  IotlbListener NONE = new IotlbListener() {};

  /** Why the last cached byte of a window went. */
  enum Closure {
    /** An invalidation covered it in every cache that held it. */
    INVALIDATED,
    /** The IOTLB evicted it (finite capacity) and no device TLB held it. */
    EVICTED,
    /** Its domain was removed from the model with the window still open. */
    DOMAIN_REMOVED
  }

  /** No cache translates any byte of {@code window} any more; it was open {@code openNs}. */
  default void windowClosed(Window window, long openNs, long seq, Closure cause) {}

  /**
   * Invalidation {@code seq} reached part of {@code window} but missed {@code missedBytes} of it
   * that the caches it addressed still hold, outside its range (PARTIAL_FLUSH). The window stays
   * open; {@link IotlbModel#forEachOpenRange(Window, IotlbModel.RangeVisitor)} lists what is left.
   * A window waiting only for another cache (an IOTLB flush before the device-TLB flush) is not
   * reported.
   */
  default void windowPartlyInvalidated(Window window, long missedBytes, long seq) {}

  /**
   * The last paging-structure cache entry that could point at {@code table} was dropped after
   * {@code cachedNs}.
   */
  default void tableFlushed(StaleTable table, long cachedNs, long seq) {}
}
