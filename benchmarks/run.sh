#!/usr/bin/env bash
# Runs a benchmark on the built project (build first: ./mvnw -B -q -DskipTests install).
#   benchmarks/run.sh import TRACE     import throughput beside raw decompress+split, same run
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
classpath_file="$root/benchmarks/target/benchmark.classpath"
[[ -f $classpath_file ]] || { echo "build first: ./mvnw -B -q -DskipTests install" >&2; exit 2; }
classpath="$root/benchmarks/target/classes:$(cat "$classpath_file")"
java_opts=(-Dorg.apache.avro.SERIALIZABLE_PACKAGES=io.iommureplay.schema -Xms2g -Xmx2g -XX:+UseParallelGC)
case "${1:-}" in
  import) shift; exec java "${java_opts[@]}" -cp "$classpath" io.iommureplay.bench.ImportThroughput "$@" ;;
  *) echo "usage: benchmarks/run.sh import TRACE" >&2; exit 2 ;;
esac
