/**
 * Aggregation of findings and statistics over replays (SPEC "Detectors → Allocator fragmentation",
 * "Outputs"): window-length distributions, findings per event-time window, allocator what-if
 * comparisons and the HTML report. Nothing here depends on Flink, so batch and streaming jobs share
 * one implementation.
 */
package io.iommureplay.analytics;
