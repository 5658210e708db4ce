package io.iommureplay.generate;

import static org.assertj.core.api.Assertions.assertThat;

import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.codec.IommuEventDatumWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;

/** The same options give the same events, byte for byte (Avro binary), and the same labels. */
class DeterminismTest {

  static GeneratorOptions options(long seed) {
    return GeneratorOptions.defaults()
        .withWorkload(Workload.MIX)
        .withLazy(true)
        .withCpus(4)
        .withHosts(2)
        .withEvents(150_000)
        .withSeed(seed)
        .withInjected(FindingType.PHYS_REUSE_IN_WINDOW, 3)
        .withInjected(FindingType.WRITER_RACE, 2)
        .withInjected(FindingType.LONG_WINDOW, 2)
        .withInjected(FindingType.HIGH_FRAGMENTATION, 1);
  }

  /** SHA-256 of the Avro binary encoding of every event, and of the label lines. */
  static String[] digest(GeneratorOptions options) {
    try {
      MessageDigest events = MessageDigest.getInstance("SHA-256");
      DigestOutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), events);
      BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
      IommuEventDatumWriter writer = new IommuEventDatumWriter();
      WorkloadGenerator g = new WorkloadGenerator(options);
      long n = 0;
      while (g.hasNext()) {
        IommuEvent e = g.next();
        writer.write(e, encoder);
        n++;
      }
      encoder.flush();
      MessageDigest labels = MessageDigest.getInstance("SHA-256");
      List<Label> all = g.labels();
      for (Label l : all)
        labels.update(Labels.toJson(l).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      HexFormat hex = HexFormat.of();
      return new String[] {
        hex.formatHex(events.digest()),
        hex.formatHex(labels.digest()),
        Long.toString(n),
        Integer.toString(all.size())
      };
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void sameSeedSameBytes() {
    String[] a = digest(options(42));
    String[] b = digest(options(42));
    assertThat(b).containsExactly(a);
    assertThat(Integer.parseInt(a[3])).isEqualTo(8);
  }

  @Test
  void differentSeedDifferentEvents() {
    String[] a = digest(options(42));
    String[] c = digest(options(43));
    assertThat(c[0]).isNotEqualTo(a[0]);
    assertThat(c[1]).isNotEqualTo(a[1]);
  }

  @Test
  void otherOptionsChangeTheTraceToo() {
    String[] a = digest(options(42));
    assertThat(digest(options(42).withCpus(3))[0]).isNotEqualTo(a[0]);
    assertThat(digest(options(42).withLazy(false))[0]).isNotEqualTo(a[0]);
  }
}
