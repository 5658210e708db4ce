package io.iommureplay.model.iotlb;

/**
 * A page-table page unlinked from its domain's table while the paging-structure caches may still
 * hold entries pointing at it: it must not be freed or reused until an invalidation that drops
 * paging-structure-cache entries for its span (IH=0, or a domain or global flush: VT-d spec
 * 6.5.2.3) has happened, else the IOMMU may walk a freed page (TABLE_FREE_BEFORE_FLUSH).
 */
public final class StaleTable extends Extent {

  private final int level;
  private final long seq;
  private final long tsNs;

  StaleTable(
      DomainCaches domain,
      long id,
      long first,
      long last,
      long holders,
      int level,
      long seq,
      long tsNs) {
    super(domain, id, first, last, holders, null);
    this.level = level;
    this.seq = seq;
    this.tsNs = tsNs;
  }

  public long domain() {
    return domain.id;
  }

  /** Table level, 1 for a table of 4 KiB leaf entries. */
  public int level() {
    return level;
  }

  /** First IOVA the table translated. */
  public long spanStart() {
    return first;
  }

  /** Bytes of IOVA the table translated. */
  public long spanSize() {
    return bytes();
  }

  /** Sequence number of the event that unlinked it. */
  public long seq() {
    return seq;
  }

  /** When it was unlinked, ns. */
  public long tsNs() {
    return tsNs;
  }

  /** Whether a paging-structure cache may still point at it. */
  public boolean isCached() {
    return holders != 0;
  }

  @Override
  public String toString() {
    return "StaleTable[domain=%d, level=%d, span=0x%x+0x%x, seq=%d, cached=%b]"
        .formatted(domain(), level, first, bytes(), seq, isCached());
  }
}
