package io.iommureplay.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import org.junit.jupiter.api.Test;

class DetectionTest {

  private static Detection.Builder complete() {
    return Detection.builder(FindingType.IOVA_REUSE_BEFORE_FLUSH, Severity.HIGH)
        .host("h1")
        .on(1, "0000:00:04.0")
        .iova(0x1000, 0x2000)
        .at(5)
        .evidence(10, 11)
        .message("iova 0x1000 allocated again before its flush");
  }

  @Test
  void buildsWhatItWasGiven() {
    Detection detection =
        complete().phys(0x9000, 0xa000).otherParty(2, null).inFlushWindow(3).build();

    assertThat(detection.evidence()).containsExactly(10L, 11L);
    assertThat(detection.physEnd()).isEqualTo(0xa000);
    assertThat(detection.otherDomain()).isEqualTo(2);
    assertThat(detection.otherDevice()).isNull();
    assertThat(detection.flushWindow()).isEqualTo(3);
    assertThat(complete().build().flushWindow()).as("coalesced by interval").isNull();
  }

  @Test
  void rangesEndAfterTheyStartUnsigned() {
    assertThat(complete().iova(0x1000, 0x8000_0000_0000_0000L).build().iovaEnd()).isNegative();
    assertThatThrownBy(() -> complete().iova(0x2000, 0x1000).build())
        .hasMessageContaining("IOVA range ends before it starts: 0x2000-0x1000");
    assertThatThrownBy(() -> complete().phys(-1, 0).build())
        .hasMessageContaining("physical range ends before it starts");
  }

  @Test
  void requiresEvidenceAndTheIdentifyingFields() {
    assertThatThrownBy(() -> complete().evidence().build()).hasMessageContaining("evidence");
    assertThatThrownBy(() -> complete().host(null).build()).hasMessageContaining("host");
    assertThatThrownBy(
            () ->
                Detection.builder(FindingType.LONG_WINDOW, Severity.INFO)
                    .host("h1")
                    .on(1, null)
                    .evidence(1)
                    .message("m")
                    .build())
        .hasMessageContaining("iova range");
  }
}
