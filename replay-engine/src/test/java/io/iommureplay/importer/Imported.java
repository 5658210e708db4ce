package io.iommureplay.importer;

import io.iommureplay.schema.EventType;
import io.iommureplay.schema.IommuEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.groups.Tuple;

/**
 * What importing some ftrace text produced: the events in the order they reached the sink, the
 * rejected lines and the stats. Tests build it from text blocks with {@link #of}.
 *
 * @param eventsBeforeFinish how many events had reached the sink before {@link
 *     FtraceImporter#finish()} was called
 */
record Imported(
    List<IommuEvent> events,
    List<ImportSink.RejectedLine> rejected,
    ImportStats stats,
    int eventsBeforeFinish) {

  static final String HOST = "test-host";

  /**
   * Imports {@code files} as consecutive files of one host ("file1", "file2", ...), then finishes.
   */
  static Imported of(String... files) {
    List<IommuEvent> events = new ArrayList<>();
    List<ImportSink.RejectedLine> rejected = new ArrayList<>();
    FtraceImporter importer =
        new FtraceImporter(
            HOST,
            new ImportSink() {
              @Override
              public void event(IommuEvent event) {
                events.add(event);
              }

              @Override
              public void rejected(RejectedLine line) {
                rejected.add(line);
              }
            });
    try {
      for (int i = 0; i < files.length; i++) {
        importer.read("file" + (i + 1), new BufferedReader(new StringReader(files[i])));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    int beforeFinish = events.size();
    importer.finish();
    return new Imported(events, rejected, importer.stats(), beforeFinish);
  }

  /** The event made from line {@code seq} (the line number, continued across files). */
  IommuEvent line(long seq) {
    return events.stream()
        .filter(e -> e.getSeq() == seq)
        .findFirst()
        .orElseThrow(
            () -> new AssertionError("no event from line " + seq + "; rejected: " + rejected));
  }

  /** The one event from trace event {@code source}. */
  IommuEvent only(String source) {
    List<IommuEvent> found = events.stream().filter(e -> e.getSource().equals(source)).toList();
    if (found.size() != 1)
      throw new AssertionError(found.size() + " events from " + source + ": " + found);
    return found.get(0);
  }

  List<IommuEvent> ofType(EventType type) {
    return events.stream().filter(e -> e.getType() == type).toList();
  }

  /** The fields a test checks: type, source, domain, device, attribution, payload. */
  static Tuple fields(IommuEvent e) {
    return new Tuple(
        e.getType(),
        e.getSource(),
        e.getDomain(),
        e.getDevice(),
        e.getAttribution(),
        e.getPayload());
  }

  /** {@link #fields} of every event, in order. */
  List<Tuple> allFields() {
    return events.stream().map(Imported::fields).toList();
  }
}
