/**
 * Encodings of the schema records (SPEC: Events): Avro single-object messages for Kafka ({@link
 * io.iommureplay.schema.codec.SingleObjectCodec}), Avro container files for disk ({@link
 * io.iommureplay.schema.codec.EventFiles}) and the flat JSON-lines form of events for people
 * ({@link io.iommureplay.schema.codec.EventJsonLines}), with the one table of which payload each
 * event type carries ({@link io.iommureplay.schema.codec.EventTypes}) and the released schema
 * versions that readers must keep reading ({@link io.iommureplay.schema.codec.SchemaHistory}).
 *
 * <p>Decoding instantiates generated classes, so every JVM that uses this package needs {@code
 * -Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.iommureplay.schema} (Avro 1.12 refuses untrusted
 * classes).
 */
package io.iommureplay.schema.codec;
