package io.iommureplay.detect;

import io.iommureplay.schema.Finding;
import java.util.List;

/**
 * Counts findings into a {@code summary.json} section (issue 4: summary.json counts both incidents
 * and instances):
 *
 * <pre>{"bySeverity": {"HIGH": 1, "LOW": 2},
 *  "byType": {"PHYS_REUSE_IN_WINDOW": {"bySeverity": {"HIGH": 1, "LOW": 2},
 *                                      "incidents": 3, "instances": 1500}},
 *  "incidents": 3, "instances": 1500}</pre>
 *
 * An incident is one finding, its instances what its {@code instances} field says; severities count
 * incidents. Types without findings are left out.
 */
public final class FindingCounts {
  private final SummaryJson section;

  /** Counts into {@code section}, conventionally {@code summary.section("findings")}. */
  public FindingCounts(SummaryJson section) {
    this.section = section;
    section.add("incidents", 0).add("instances", 0).section("bySeverity");
    section.section("byType");
  }

  public void count(Finding finding) {
    SummaryJson ofType = section.section("byType").section(finding.getType().name());
    for (SummaryJson counts : List.of(section, ofType)) {
      counts.add("incidents", 1).add("instances", finding.getInstances());
      counts.section("bySeverity").add(finding.getSeverity().name(), 1);
    }
  }
}
