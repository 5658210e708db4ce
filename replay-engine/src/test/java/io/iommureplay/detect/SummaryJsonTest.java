package io.iommureplay.detect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.iommureplay.schema.FindingType;
import io.iommureplay.schema.Severity;
import org.junit.jupiter.api.Test;

class SummaryJsonTest {

  @Test
  void keysAreSortedWhateverTheOrderTheyCameIn() {
    SummaryJson one = new SummaryJson();
    one.section("windows").section("domain 1").put("p99", 9_500_000L).put("p50", 1_000L);
    one.section("allocators").put("cacheHitRate", 0.75).put("model", "rbtree");
    one.add("events", 3).add("events", 4);

    SummaryJson other = new SummaryJson();
    other.add("events", 7);
    other.section("allocators").put("model", "rbtree").put("cacheHitRate", 0.75);
    other.section("windows").section("domain 1").put("p50", 1_000L).put("p99", 9_500_000L);

    assertThat(other.toJson()).isEqualTo(one.toJson());
    assertThat(one.toJson().replaceAll("\\s", ""))
        .isEqualTo(
            "{\"allocators\":{\"cacheHitRate\":0.75,\"model\":\"rbtree\"},\"events\":7,"
                + "\"windows\":{\"domain1\":{\"p50\":1000,\"p99\":9500000}}}");
    assertThat(one.toJson()).endsWith("}\n");
  }

  @Test
  void partsCannotOverwriteEachOther() {
    SummaryJson summary = new SummaryJson();
    summary.put("count", 1L).put("name", "x").section("part");

    assertThatThrownBy(() -> summary.put("count", 2L)).hasMessageContaining("already set");
    assertThatThrownBy(() -> summary.add("name", 1)).hasMessageContaining("not a count");
    assertThatThrownBy(() -> summary.section("name")).hasMessageContaining("not a section");
    assertThatThrownBy(() -> summary.add("part", 1)).hasMessageContaining("not a count");
    assertThatThrownBy(() -> summary.put("rate", Double.NaN)).hasMessageContaining("NaN");
  }

  @Test
  void findingCountsHoldIncidentsInstancesAndSeverities() {
    SummaryJson summary = new SummaryJson();
    FindingCounts counts = new FindingCounts(summary.section("findings"));
    counts.count(FindingsJsonTest.finding().setInstances(1000).build());
    counts.count(FindingsJsonTest.finding().setSeverity(Severity.LOW).setInstances(499).build());
    counts.count(
        FindingsJsonTest.finding().setType(FindingType.MISSING_FLUSH).setInstances(1).build());

    assertThat(summary.toJson().replaceAll("\\s", ""))
        .isEqualTo(
            "{\"findings\":{\"bySeverity\":{\"HIGH\":2,\"LOW\":1},\"byType\":{"
                + "\"MISSING_FLUSH\":{\"bySeverity\":{\"HIGH\":1},\"incidents\":1,\"instances\":1},"
                + "\"PHYS_REUSE_IN_WINDOW\":{\"bySeverity\":{\"HIGH\":1,\"LOW\":1},"
                + "\"incidents\":2,\"instances\":1499}},\"incidents\":3,\"instances\":1500}}");
  }

  @Test
  void noFindingsAreCountedAsZero() {
    SummaryJson summary = new SummaryJson();
    new FindingCounts(summary.section("findings"));

    assertThat(summary.toJson().replaceAll("\\s", ""))
        .isEqualTo(
            "{\"findings\":{\"bySeverity\":{},\"byType\":{},\"incidents\":0,\"instances\":0}}");
  }
}
