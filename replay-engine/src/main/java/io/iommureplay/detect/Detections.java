package io.iommureplay.detect;

/** Where detectors put what they saw; the pipeline coalesces it into findings. */
@FunctionalInterface
interface Detections {
  void add(Detection detection);
}
