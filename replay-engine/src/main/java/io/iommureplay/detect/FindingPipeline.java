package io.iommureplay.detect;

import io.iommureplay.model.Domain;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelListener;
import io.iommureplay.model.ModelListeners;
import io.iommureplay.schema.Finding;
import io.iommureplay.schema.FlushScope;
import io.iommureplay.schema.IommuEvent;
import io.iommureplay.schema.IotlbInvalidation;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Every detector of one host, fed by the host's {@link IommuModel}, and the coalescing of what they
 * see into findings. Use: create it, create the model with {@link #listener()}, {@link #attach} the
 * model, then for each event call {@link #beforeEvent} and {@code model.apply}; at the end {@link
 * #finish}. Findings go to the consumer as their incidents complete, in a deterministic order.
 *
 * <p>Instances in a lazy domain coalesce per flush window: from one domain-wide flush to the next.
 * Elsewhere they coalesce within the configured interval.
 */
public final class FindingPipeline {
  private final IncidentCoalescer coalescer;
  private final Consumer<Finding> out;
  private final UseAfterUnmapDetector useAfterUnmap;
  private final WriterRaceDetector races;
  private final ModelListener listener;

  /** Per lazy domain, the flush window now open: domain-wide flushes so far. */
  private final Map<Long, Long> flushWindow = new HashMap<>();

  private IommuModel model;
  private long lastNs;

  public FindingPipeline(String host, DetectorConfig config, Consumer<Finding> out) {
    this.coalescer =
        new IncidentCoalescer(
            new IncidentCoalescer.Options(config.coalesceIntervalNs(), config.evidenceLimit()));
    this.out = out;
    Detections detections = this::add;
    this.useAfterUnmap = new UseAfterUnmapDetector(host, config, detections);
    this.races = new WriterRaceDetector(host, detections);
    ModelListener windows =
        new ModelListener() {
          @Override
          public void flushed(IommuEvent flush, Domain domain, IotlbInvalidation invalidation) {
            flushWindowEnds(domain, invalidation);
          }
        };
    this.listener =
        ModelListeners.all(
            useAfterUnmap, races, new FragmentationDetector(host, config, detections), windows);
  }

  /** What the model must tell: create the model with it. */
  public ModelListener listener() {
    return listener;
  }

  public void attach(IommuModel model) {
    this.model = model;
    useAfterUnmap.attach(model);
  }

  /** Before the model applies {@code event}: time moves on, and some events the detectors read. */
  public void beforeEvent(IommuEvent event) {
    lastNs = Math.max(lastNs, event.getTsNs());
    emit(coalescer.advanceTo(event.getTsNs()));
    races.event(event);
  }

  /** End of the trace: what stays open is reported, then every incident still open. */
  public void finish() {
    if (model != null) model.finish();
    useAfterUnmap.finish(lastNs);
    races.finish();
    emit(coalescer.finish());
  }

  private void add(Detection detection) {
    Domain domain = model == null ? null : model.domain(detection.domain());
    boolean lazy = domain != null && domain.isLazy();
    coalescer.add(
        lazy ? detection.withFlushWindow(flushWindow.getOrDefault(domain.id(), 0L)) : detection);
  }

  /** A domain-wide flush of a lazy domain ends the flush window of its instances. */
  private void flushWindowEnds(Domain domain, IotlbInvalidation invalidation) {
    if (domain == null || !domain.isLazy() || invalidation.getScope() != FlushScope.DOMAIN) return;
    long window = flushWindow.getOrDefault(domain.id(), 0L);
    emit(coalescer.windowClosed(domain.id(), window));
    flushWindow.put(domain.id(), window + 1);
  }

  private void emit(List<Finding> findings) {
    findings.forEach(out);
  }
}
