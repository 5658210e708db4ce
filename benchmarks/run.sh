#!/usr/bin/env bash
# Runs a benchmark on the built project (build first: ./mvnw -B -q -DskipTests install).
#   benchmarks/run.sh import TRACE       import throughput beside raw decompress+split, same run
#   benchmarks/run.sh model [JMH-OPTS]   the model alone, events/s on one thread (JMH; ~2 minutes;
#                                        JMH options override the defaults, e.g. -f 1 -prof gc,
#                                        -p workload=NIC_LAZY)
#   benchmarks/run.sh memory [PAGES]     model state per live 4 KiB mapping (default 1,000,000 pages)
#   benchmarks/run.sh linearity [N]      time of N and 10N events, median of 7 rounds (default 300,000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
classpath_file="$root/benchmarks/target/benchmark.classpath"
[[ -f $classpath_file ]] || { echo "build first: ./mvnw -B -q -DskipTests install" >&2; exit 2; }
classpath="$root/benchmarks/target/classes:$(cat "$classpath_file")"
java_opts=(-Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.iommureplay.schema -Xms2g -Xmx2g -XX:+UseParallelGC)
usage="usage: benchmarks/run.sh import TRACE | replay EVENTS.avro [vtd:N] | model [JMH-OPTIONS] | memory [PAGES] | linearity [N]"
case "${1:-}" in
  replay) shift; exec java "${java_opts[@]}" -cp "$classpath" io.iommureplay.bench.ReplayThroughput "$@" ;;
  import) shift; exec java "${java_opts[@]}" -cp "$classpath" io.iommureplay.bench.ImportThroughput "$@" ;;
  # JMH forks the measuring JVMs itself (ModelThroughput's @Fork sets their options).
  model) shift; exec java "${java_opts[@]}" -cp "$classpath" org.openjdk.jmh.Main \
    'io\.iommureplay\.bench\.ModelThroughput\.' "$@" ;;
  memory) shift; exec java "${java_opts[@]}" -cp "$classpath" io.iommureplay.bench.MemoryFootprint "$@" ;;
  linearity) shift; exec java "${java_opts[@]}" -cp "$classpath" io.iommureplay.bench.Linearity "$@" ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
