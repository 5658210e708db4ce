package io.iommureplay.bench;

import io.iommureplay.bench.workload.Consistency;
import io.iommureplay.bench.workload.WorkloadKind;
import io.iommureplay.bench.workload.Workloads;
import io.iommureplay.model.IommuModel;
import io.iommureplay.model.ModelListener;
import io.iommureplay.schema.IommuEvent;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The model alone, on one thread: {@link IommuModel#apply} over a stream of {@link IommuEvent}s
 * built before the measurement ({@link WorkloadKind}), into a new model per invocation (made
 * outside the measured time). One operation is one event, so the score is events/s. The stream is
 * checked first ({@link Consistency}): a stream the model disagrees with would time its repair
 * paths.
 *
 * <p>{@code benchmarks/run.sh model} runs it (about 2 minutes); any JMH option after that overrides
 * the defaults below (e.g. {@code -f 1 -prof gc}, {@code -p workload=NIC_LAZY}). Three forks,
 * because one JVM's JIT decisions can differ from the next one's by 20–30 % on this model.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(
    value = 3,
    jvmArgsAppend = {
      "-Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.iommureplay.schema",
      "-Xms2g",
      "-Xmx2g",
      "-XX:+UseParallelGC"
    })
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ModelThroughput {
  /** Events per invocation: about 0.2 s of work at the target rate, well past the first maps. */
  static final int EVENTS = 1_000_000;

  @Param({"NIC_LAZY", "NVME_STRICT"})
  public WorkloadKind workload;

  private IommuEvent[] events;
  private IommuModel model;

  @Setup(Level.Trial)
  public void buildEvents() {
    events = Workloads.events(workload, Workloads.SEED, EVENTS);
    Consistency.check(events).require();
  }

  @Setup(Level.Invocation)
  public void newModel() {
    model = new IommuModel(Workloads.modelConfig(), ModelListener.NONE);
  }

  @Benchmark
  @OperationsPerInvocation(EVENTS)
  public IommuModel replay() {
    IommuModel m = model;
    for (IommuEvent event : events) m.apply(event);
    m.finish();
    return m;
  }
}
