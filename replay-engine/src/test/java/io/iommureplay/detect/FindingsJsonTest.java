package io.iommureplay.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.detect.FindingsJson.MalformedFindingException;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FindingsJsonTest {

  static Finding.Builder finding() {
    return Finding.newBuilder()
        .setType(FindingType.PHYS_REUSE_IN_WINDOW)
        .setSeverity(Severity.HIGH)
        .setHost("h1")
        .setDomain(1)
        .setDevice("0000:00:04.0")
        .setIovaStart(0xfff0_0000L)
        .setIovaEnd(0xfff0_2000L)
        .setFirstNs(1000)
        .setLastNs(2000)
        .setEvidence(List.of(7L, 9L))
        .setInstances(2)
        .setMessage("page 0x10000 mapped again while its window is open");
  }

  private static String write(List<Finding> findings) throws IOException {
    StringWriter out = new StringWriter();
    try (FindingsJson.FindingWriter writer = FindingsJson.writer(out)) {
      for (Finding finding : findings) writer.write(finding);
    }
    return out.toString();
  }

  private static List<Finding> read(String text) throws IOException {
    return FindingsJson.read(new StringReader(text));
  }

  @Test
  void writesTheContractFieldsInOrder() throws IOException {
    Finding withEverything =
        finding()
            .setPhysStart(0x10000L)
            .setPhysEnd(0x12000L)
            .setOtherDomain(2L)
            .setOtherDevice("0000:00:05.0")
            .build();
    Finding withoutOptionalParts = finding().setDevice(null).build();

    assertThat(write(List.of(withEverything, withoutOptionalParts)))
        .isEqualTo(
            """
            {"type":"PHYS_REUSE_IN_WINDOW","severity":"HIGH","host":"h1","domain":1,\
            "device":"0000:00:04.0","iovaStart":4293918720,"iovaEnd":4293926912,\
            "physStart":65536,"physEnd":73728,"firstNs":1000,"lastNs":2000,"evidence":[7,9],\
            "instances":2,"message":"page 0x10000 mapped again while its window is open",\
            "otherDomain":2,"otherDevice":"0000:00:05.0"}
            {"type":"PHYS_REUSE_IN_WINDOW","severity":"HIGH","host":"h1","domain":1,\
            "device":null,"iovaStart":4293918720,"iovaEnd":4293926912,"firstNs":1000,\
            "lastNs":2000,"evidence":[7,9],"instances":2,\
            "message":"page 0x10000 mapped again while its window is open"}
            """);
  }

  @Test
  void addressesAbove63BitsArePositiveIntegersAndReadBack() throws IOException {
    Finding high =
        finding()
            .setIovaStart(0xffff_ffff_ffff_e000L)
            .setIovaEnd(0xffff_ffff_ffff_f000L)
            .setPhysStart(0x8000_0000_0000_0000L)
            .setPhysEnd(0x8000_0000_0000_1000L)
            .setOtherDomain(3L)
            .build();

    String line = write(List.of(high));

    assertThat(line)
        .contains("\"iovaStart\":18446744073709543424,\"iovaEnd\":18446744073709547520")
        .contains("\"physStart\":9223372036854775808,\"physEnd\":9223372036854779904")
        .contains("\"otherDomain\":3,\"otherDevice\":null");
    assertThat(read(line)).containsExactly(high);
  }

  @Test
  void readsWhatItWrites() throws IOException {
    List<Finding> findings =
        List.of(
            finding().build(),
            finding().setDevice(null).setPhysStart(0L).setPhysEnd(0x1000L).build(),
            finding().setOtherDomain(-1L).setOtherDevice("0000:00:05.0").build());

    assertThat(read(write(findings) + "\n")).isEqualTo(findings);
  }

  @Test
  void rejectsLinesThatAreNotFindings() {
    String good =
        "{\"type\":\"LONG_WINDOW\",\"severity\":\"INFO\",\"host\":\"h\",\"domain\":1,"
            + "\"device\":null,\"iovaStart\":0,\"iovaEnd\":4096,\"firstNs\":1,\"lastNs\":2,"
            + "\"evidence\":[3],\"instances\":1,\"message\":\"m\"}\n";
    assertThatThrownBy(() -> read(good + good.replace("\"INFO\"", "\"SEVERE\"")))
        .isInstanceOf(MalformedFindingException.class)
        .hasMessageContaining("line 2")
        .hasMessageContaining("SEVERE")
        .satisfies(e -> assertThat(((MalformedFindingException) e).lineNumber()).isEqualTo(2));
    assertThatThrownBy(() -> read(good.replace("\"host\":\"h\",", "")))
        .isInstanceOf(MalformedFindingException.class)
        .hasMessageContaining("host");
    assertThatThrownBy(() -> read(good.replace("\"iovaEnd\":4096", "\"iovaEnd\":-4096")))
        .isInstanceOf(MalformedFindingException.class)
        .hasMessageContaining("iovaEnd");
    assertThatThrownBy(() -> read(good.replace("\"domain\":1", "\"domain\":\"1\"")))
        .isInstanceOf(MalformedFindingException.class)
        .hasMessageContaining("domain");
    assertThatThrownBy(() -> read(good.replace("{", "{\"colour\":\"red\",")))
        .isInstanceOf(MalformedFindingException.class)
        .hasMessageContaining("colour");
  }

  @Test
  void canonicalOrderDoesNotDependOnLineOrder() throws IOException {
    List<Finding> findings = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      findings.add(
          finding()
              .setFirstNs(i % 3)
              .setType(FindingType.values()[1 + i % 4])
              .setDevice(i % 5 == 0 ? null : "0000:00:0" + i % 5 + ".0")
              .setIovaStart(i % 2 == 0 ? 0x1000L : 0x8000_0000_0000_0000L)
              .setEvidence(List.of((long) i % 7))
              .build());
    }
    List<Finding> shuffled = new ArrayList<>(findings);
    Collections.shuffle(shuffled, new Random(3));

    assertThat(write(shuffled.stream().sorted(FindingOrder.CANONICAL).toList()))
        .isEqualTo(write(findings.stream().sorted(FindingOrder.CANONICAL).toList()));
    assertThat(shuffled.stream().sorted(FindingOrder.CANONICAL).toList())
        .extracting(Finding::getFirstNs)
        .isSorted();
  }
}
