package io.iommureplay.importer;

import io.iommureplay.schema.IommuEvent;

/** An event held back until a later line names its domain, or until its deadline passes. */
final class HeldEvent {
  final IommuEvent event;
  final long deadlineLine;
  boolean waiting;

  HeldEvent(IommuEvent event, long deadlineLine, boolean waiting) {
    this.event = event;
    this.deadlineLine = deadlineLine;
    this.waiting = waiting;
  }
}
