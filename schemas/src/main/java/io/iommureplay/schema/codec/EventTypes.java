package io.iommureplay.schema.codec;

import static io.iommureplay.schema.EventType.*;

import io.iommureplay.schema.CacheTagOp;
import io.iommureplay.schema.DeviceAccess;
import io.iommureplay.schema.DeviceBinding;
import io.iommureplay.schema.DmaApiCall;
import io.iommureplay.schema.DomainLifecycle;
import io.iommureplay.schema.EventType;
import io.iommureplay.schema.FlushQueueOp;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import io.iommureplay.schema.IovaAllocation;
import io.iommureplay.schema.IovaDomainInit;
import io.iommureplay.schema.IovaFree;
import io.iommureplay.schema.IovaRange;
import io.iommureplay.schema.Mapping;
import io.iommureplay.schema.PageFault;
import io.iommureplay.schema.PasidOp;
import io.iommureplay.schema.QiDescriptor;
import io.iommureplay.schema.ReservedRegion;
import io.iommureplay.schema.TablePage;
import io.iommureplay.schema.TableWalk;
import io.iommureplay.schema.TraceMarker;
import io.iommureplay.schema.Unmapping;
import java.util.EnumMap;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Which payload record each {@link EventType} carries in {@link IommuEvent#getPayload()}. This is
 * the one place that says so: codecs, importers and the model ask here rather than keeping their
 * own table.
 */
public final class EventTypes {

  private record Payload(Class<? extends SpecificRecord> type, Schema schema) {}

  private static final Map<EventType, Payload> PAYLOADS = new EnumMap<>(EventType.class);

  static {
    bind(DomainLifecycle.class, DOMAIN_ALLOC, DOMAIN_FREE);
    bind(DeviceBinding.class, ATTACH, DETACH, DEVICE_ADD, DEVICE_REMOVE);
    bind(Mapping.class, MAP);
    bind(Unmapping.class, UNMAP);
    bind(IotlbInvalidation.class, IOTLB_FLUSH, IOTLB_FLUSH_REQUEST);
    bind(QiDescriptor.class, QI_DESCRIPTOR);
    bind(CacheTagOp.class, CACHE_TAG);
    bind(FlushQueueOp.class, FQ_ENQUEUE, FQ_REAP, FQ_TIMEOUT, FQ_FLUSH);
    bind(IovaDomainInit.class, IOVA_DOMAIN_INIT);
    bind(IovaRange.class, IOVA_RESERVE, IOVA_REMOVE);
    bind(IovaAllocation.class, IOVA_ALLOC_REQUEST, IOVA_ALLOC);
    bind(IovaFree.class, IOVA_FREE);
    bind(TablePage.class, PGTABLE_ALLOC, PGTABLE_FREE);
    bind(TableWalk.class, PGTABLE_WALK);
    bind(DeviceAccess.class, DEVICE_ACCESS);
    bind(PageFault.class, IO_PAGE_FAULT);
    bind(ReservedRegion.class, RESERVED_REGION);
    bind(PasidOp.class, SVA_BIND, SVA_UNBIND, MM_EXIT, PASID_FREE);
    bind(
        DmaApiCall.class,
        DMA_MAP,
        DMA_MAP_DONE,
        DMA_UNMAP,
        DMA_MAP_SG,
        DMA_MAP_SG_DONE,
        DMA_UNMAP_SG,
        DMA_ALLOC,
        DMA_FREE,
        DMA_SYNC);
    bind(TraceMarker.class, MARKER);
    // UNKNOWN carries none: it stands for types this version does not know.
  }

  private EventTypes() {}

  private static void bind(Class<? extends SpecificRecord> type, EventType... eventTypes) {
    Payload payload = new Payload(type, SpecificData.get().getSchema(type));
    for (EventType eventType : eventTypes) {
      PAYLOADS.put(eventType, payload);
    }
  }

  /**
   * The schema of the payload record that events of {@code type} carry, or null when the type
   * carries none (UNKNOWN, or a null type).
   */
  public static Schema payloadSchema(EventType type) {
    Payload payload = PAYLOADS.get(type);
    return payload == null ? null : payload.schema();
  }

  /**
   * Whether the event's payload fits its type: an instance of the type's payload record, or null
   * when the type carries none. A type that carries a payload always has one (its fields may all be
   * null).
   */
  public static boolean validatePayload(IommuEvent event) {
    Payload expected = PAYLOADS.get(event.getType());
    Object payload = event.getPayload();
    return expected == null ? payload == null : expected.type().isInstance(payload);
  }
}
