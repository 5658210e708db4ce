package io.iommureplay.importer;

import io.iommureplay.schema.IommuEvent;

/** Where an import sends what it read: events in order, and lines it could not use. */
public interface ImportSink {
  void event(IommuEvent event);

  /** A line of a known kind that did not parse, or any line that was not an ftrace line at all. */
  void rejected(RejectedLine line);

  /** A rejected line, with where it was and why. */
  record RejectedLine(String file, long lineNumber, String reason, String text) {
    @Override
    public String toString() {
      return file + ":" + lineNumber + ": " + reason + ": " + text;
    }
  }
}
