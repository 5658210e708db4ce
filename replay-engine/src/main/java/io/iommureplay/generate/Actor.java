package io.iommureplay.generate;

/** Normal traffic of one device (and CPU): each step is one operation, a handful of events. */
abstract class Actor {
  final HostGenerator h;
  final GenDomain domain;
  final double weight;

  Actor(HostGenerator h, GenDomain domain, double weight) {
    this.h = h;
    this.domain = domain;
    this.weight = weight;
  }

  /** Whether the actor may run now. */
  boolean runnable() {
    return domain == null || !domain.paused;
  }

  /** Builds what the device holds at start (rings, static mappings). */
  void start() {}

  /** One operation at {@code h.now}. */
  abstract void step();
}
