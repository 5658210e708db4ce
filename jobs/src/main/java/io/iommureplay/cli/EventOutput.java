package io.iommureplay.cli;

import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.codec.EventFiles;
import io.iommureplay.schema.codec.EventJsonLines;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** An event file the commands write: Avro container, or JSON lines when the name ends in .jsonl. */
record EventOutput(Path file, Closeable resource, EventOutput.EventWrite writeOne)
    implements AutoCloseable {
  @FunctionalInterface
  interface EventWrite {
    void write(IommuEvent event) throws IOException;
  }

  static EventOutput open(Path file) throws IOException {
    if (file.getFileName().toString().endsWith(".jsonl")) {
      EventJsonLines.EventWriter writer = EventJsonLines.writer(Files.newBufferedWriter(file));
      return new EventOutput(file, writer, writer::write);
    }
    EventFiles.RecordWriter<IommuEvent> writer = EventFiles.writer(file, IommuEvent.class);
    return new EventOutput(file, writer, writer::append);
  }

  void write(IommuEvent event) {
    try {
      writeOne.write(event);
    } catch (IOException e) {
      throw new UncheckedIOException(file + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() throws IOException {
    resource.close();
  }
}
