package io.iommureplay.generate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.schema.FindingType;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabelsTest {
  static final Label FULL =
      new Label(
          FindingType.PHYS_REUSE_IN_WINDOW,
          "host0",
          2,
          "0000:03:00.0",
          0xfffff000L,
          0x100000000L,
          1_000_012_345L,
          1_000_013_345L,
          List.of(5012L, 5020L),
          "cross-device",
          3L,
          "0000:02:00.0",
          0x110000000L,
          0x110001000L,
          List.of());

  static final Label BARE =
      new Label(
          FindingType.WALK_FREE_RACE,
          "host1",
          4,
          null,
          1L << 40,
          (1L << 40) + (2L << 20),
          7,
          9,
          List.of(1L, 3L, 4L),
          null,
          null,
          null,
          null,
          null,
          List.of(FindingType.TABLE_FREE_BEFORE_FLUSH));

  @Test
  void writesTheDocumentedFormat() {
    assertThat(Labels.toJson(FULL))
        .isEqualTo(
            "{\"type\":\"PHYS_REUSE_IN_WINDOW\",\"host\":\"host0\",\"domain\":2,"
                + "\"device\":\"0000:03:00.0\",\"iovaStart\":4294963200,\"iovaEnd\":4294967296,"
                + "\"firstNs\":1000012345,\"lastNs\":1000013345,\"seqs\":[5012,5020],"
                + "\"variant\":\"cross-device\",\"otherDomain\":3,\"otherDevice\":\"0000:02:00.0\","
                + "\"physStart\":4563402752,\"physEnd\":4563406848,\"also\":[]}");
    assertThat(Labels.toJson(BARE))
        .isEqualTo(
            "{\"type\":\"WALK_FREE_RACE\",\"host\":\"host1\",\"domain\":4,\"device\":null,"
                + "\"iovaStart\":1099511627776,\"iovaEnd\":1099513724928,\"firstNs\":7,\"lastNs\":9,"
                + "\"seqs\":[1,3,4],\"also\":[\"TABLE_FREE_BEFORE_FLUSH\"]}");
  }

  @Test
  void roundTrips(@TempDir Path dir) throws IOException {
    StringWriter out = new StringWriter();
    Labels.write(out, List.of(FULL, BARE));
    assertThat(Labels.read(new StringReader(out.toString()))).containsExactly(FULL, BARE);
    Path file = dir.resolve(Labels.FILE_NAME);
    Labels.write(file, List.of(BARE, FULL));
    assertThat(Labels.read(file)).containsExactly(FULL, BARE); // sorted by host, then time
    assertThat(Files.readString(file)).endsWith("\n");
  }

  @Test
  void readsFieldsInAnyOrderAndIgnoresUnknownOnes() throws IOException {
    Label l =
        Labels.parse(
            "{\"seqs\":[9],\"host\":\"h\",\"type\":\"MISSING_FLUSH\",\"extra\":{\"a\":[1]},"
                + "\"domain\":1,\"iovaStart\":4096,\"iovaEnd\":8192,\"firstNs\":5,\"lastNs\":5}");
    assertThat(l.type()).isEqualTo(FindingType.MISSING_FLUSH);
    assertThat(l.seqs()).containsExactly(9L);
    assertThat(l.also()).isEmpty();
  }

  @Test
  void reportsTheBadLine() {
    assertThatThrownBy(
            () -> Labels.read(new StringReader(Labels.toJson(FULL) + "\n{\"type\":1}\n")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("line 2");
  }

  @Test
  void generatedLabelsRoundTrip() throws IOException {
    GeneratorOptions o =
        GeneratorOptions.defaults()
            .withEvents(60_000)
            .withInjected(FindingType.DEVICE_ACCESS_AFTER_UNMAP, 2)
            .withInjected(FindingType.PASID_USE_AFTER_EXIT, 2);
    List<Label> labels = WorkloadGenerator.generate(o, e -> {});
    assertThat(labels).hasSize(4);
    StringWriter out = new StringWriter();
    Labels.write(out, labels);
    assertThat(Labels.read(new StringReader(out.toString()))).isEqualTo(labels);
  }
}
