package io.iommureplay.schema.codec;

import io.iommureplay.schema.IommuEvent;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.avro.Schema;

/**
 * Released versions of the IommuEvent schema, kept so that the current reader goes on reading what
 * they wrote (SPEC: Events, "a reader of version N reads data written by version N-1"). A released
 * schema never changes; a new release adds a resource and a constant here.
 */
public final class SchemaHistory {

  /**
   * IommuEvent as first released, fully inlined (resource {@code
   * io/iommureplay/schema/v1/IommuEvent.avsc}).
   */
  public static final Schema IOMMU_EVENT_V1 = load("v1/IommuEvent.avsc");

  /** Version 2: adds FlushQueueOp.trigger (why a flush-queue flush ran). */
  public static final Schema IOMMU_EVENT_V2 = load("v2/IommuEvent.avsc");

  /**
   * Every released IommuEvent schema, oldest first: the writer schemas a current decoder must
   * accept.
   */
  public static final List<Schema> IOMMU_EVENT_RELEASES = List.of(IOMMU_EVENT_V1, IOMMU_EVENT_V2);

  private SchemaHistory() {}

  private static Schema load(String resource) {
    try (InputStream in = IommuEvent.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("schema resource missing from the class path: " + resource);
      }
      return new Schema.Parser().parse(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read schema resource " + resource, e);
    }
  }
}
