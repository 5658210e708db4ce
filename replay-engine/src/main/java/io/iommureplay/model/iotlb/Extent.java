package io.iommureplay.model.iotlb;

/**
 * A page-aligned IOVA range {@code [first, last]} of one domain that some of its caches may still
 * hold: {@code holders} has one bit per cache ({@link DomainCaches} numbers them). An extent is a
 * node of one {@link ExtentTree} and, while it is in the IOTLB and a capacity is set, of the
 * model's LRU list; the links live in the node, so keeping an extent costs no other object.
 */
class Extent {

  final DomainCaches domain;

  /** Unique among one model's extents, in creation order: breaks ties between equal starts. */
  final long id;

  long first;
  long last;
  long holders;

  /** The window this extent is a piece of; null for a cached live mapping or a stale table. */
  Window window;

  // ExtentTree: a treap ordered by (first, id) whose nodes know the largest last below them.
  Extent left;
  Extent right;
  long maxLast;
  int priority;

  // The LRU list, oldest first.
  Extent older;
  Extent newer;
  boolean inLru;

  Extent(DomainCaches domain, long id, long first, long last, long holders, Window window) {
    this.domain = domain;
    this.id = id;
    this.first = first;
    this.last = last;
    this.holders = holders;
    this.window = window;
  }

  final long bytes() {
    return last - first + 1;
  }

  final long pages() {
    return bytes() >>> IotlbModel.PAGE_SHIFT;
  }
}
