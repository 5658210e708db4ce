package io.iommureplay.analytics;

import io.iommureplay.detect.DetectorConfig;
import io.iommureplay.detect.FindingPipeline;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelConfig;
import io.iommureplay.model.ModelListeners;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.IommuEvent;
import java.util.function.Consumer;

/**
 * The replay of one host: its model, its detectors and its statistics, fed its events in order.
 * Every engine replays a host through one of these, so all give the same findings.
 */
public final class HostReplay {
  private final IommuModel model;
  private final FindingPipeline findings;
  private final ReplayStatistics statistics;

  public HostReplay(
      String host, ModelConfig modelConfig, DetectorConfig detectors, Consumer<Finding> out) {
    this.findings = new FindingPipeline(host, detectors, out);
    this.statistics = new ReplayStatistics(host);
    this.model = new IommuModel(modelConfig, ModelListeners.all(findings.listener(), statistics));
    findings.attach(model);
    statistics.attach(model);
  }

  public void apply(IommuEvent event) {
    findings.beforeEvent(event);
    statistics.event(event);
    model.apply(event);
  }

  /** Ends the replay: open windows and incidents are reported. */
  public void finish() {
    findings.finish();
  }

  public ReplayStatistics statistics() {
    return statistics;
  }
}
