package io.iommureplay.model.iotlb;

/**
 * How the model decides what is cached.
 *
 * @param mode which pages may be cached; {@link Mode#CONSERVATIVE} by default
 * @param capacityPages IOTLB reach in 4 KiB pages, evicted least recently used first (at the
 *     granularity of the model's extents, from the low end of the oldest one); {@link #UNLIMITED}
 *     (the default) keeps every entry until an invalidation covers it. Device TLBs and
 *     paging-structure caches have no capacity limit.
 */
public record IotlbConfig(Mode mode, long capacityPages) {

  /** {@link #capacityPages()} of a cache that never evicts. */
  public static final long UNLIMITED = 0;

  /** Conservative, unlimited. */
  public static final IotlbConfig DEFAULT = new IotlbConfig(Mode.CONSERVATIVE, UNLIMITED);

  /** Which pages of a domain its caches may hold. */
  public enum Mode {
    /** Any mapped page may be cached (prefetch, speculative walks): every unmap opens a window. */
    CONSERVATIVE,
    /**
     * Only pages a device accessed since they were mapped, through the caches its requests go
     * through (the IOTLB, and its device TLB if it has ATS): unmapping pages no device touched
     * opens no window.
     */
    OBSERVED
  }

  public IotlbConfig {
    if (mode == null || capacityPages < 0) {
      throw new IllegalArgumentException("mode " + mode + ", capacity " + capacityPages + " pages");
    }
  }
}
