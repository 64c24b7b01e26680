#!/usr/bin/env bash
# fuzz.sh — builds and runs the libFuzzer harnesses of tests/fuzz/ (docs/RELIABILITY.md).
#   tools/fuzz.sh run [RUNS]        each harness for RUNS executions (default $FUZZ_RUNS or 100000)
#   tools/fuzz.sh smoke [SECONDS]   each harness for SECONDS of wall time (default $FUZZ_SECONDS or 20)
#   tools/fuzz.sh seeds             rewrite tests/fuzz/corpus/ with the seed maker (normal build)
# Prints per harness the executions, libFuzzer's coverage (cov: edges, ft: features) and the
# crashes; exits 1 if any harness found one. The build is build-fuzz/ (clang, -DCXR_FUZZ=ON, ASan +
# UBSan, no CUDA). Inputs the fuzzer adds go to build-fuzz/fuzz-corpus/<name>/ (the committed seeds
# are read, never written); a crashing input is saved as build-fuzz/fuzz-artifacts/<name>/crash-*:
# fix the parser, then commit the input under tests/fuzz/regressions/<name>/ (ctest replays it).
# FUZZ_ONLY="csv negex" limits the run to those harnesses. JOBS (default: the cores) harnesses run at
# once, each a single process; the seconds of a row are its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
JOBS=${JOBS:-$(nproc)}

build_fuzzers() {
  if [[ ! -f build-fuzz/CMakeCache.txt ]]; then
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DCXR_CUDA=OFF -DCXR_FUZZ=ON > /dev/null
  fi
  echo "fuzz: building the harnesses in build-fuzz/ (log: build-fuzz/build.log)"
  if ! cmake --build build-fuzz -j "$JOBS" --target cxr_fuzzers > build-fuzz/build.log 2>&1; then
    tail -30 build-fuzz/build.log >&2
    exit 1
  fi
}

case "$mode" in
  seeds)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
    cmake --build build -j "$JOBS" --target cxr_fuzz_seeds
    rm -rf tests/fuzz/corpus
    build/cxr_fuzz_seeds tests/fuzz/corpus
    echo "seeds: $(find tests/fuzz/corpus -type f | wc -l) files, $(du -sh tests/fuzz/corpus | cut -f1)"
    exit 0
    ;;
  run) limit=(-runs="${2:-${FUZZ_RUNS:-100000}}") ;;
  smoke) limit=(-max_total_time="${2:-${FUZZ_SECONDS:-20}}") ;;
  *)
    echo "usage: $0 run [RUNS] | smoke [SECONDS] | seeds" >&2
    exit 2
    ;;
esac

build_fuzzers
# The path-based readers' harnesses write each input to a file: in memory where there is /dev/shm.
if [[ -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

harnesses=()
for f in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$f" .cpp)
  name=${name#fuzz_}
  if [[ -n "${FUZZ_ONLY:-}" && " $FUZZ_ONLY " != *" $name "* ]]; then continue; fi
  harnesses+=("$name")
done

# One harness: its row (name executions cov ft crashes seconds) to build-fuzz/fuzz-logs/<name>.row.
run_one() {
  local name=$1
  local corpus=build-fuzz/fuzz-corpus/$name artifacts=build-fuzz/fuzz-artifacts/$name
  local log=build-fuzz/fuzz-logs/$name.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  local seeds=(tests/fuzz/corpus/"$name")
  [[ -d tests/fuzz/regressions/$name ]] && seeds+=(tests/fuzz/regressions/"$name")
  local start rc
  start=$(date +%s)
  touch "$log.start"  # artifacts of earlier runs stay (for reproducing), but count only this run's
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb: over 2 GB is a memory bomb.
  set +e
  build-fuzz/cxr_fuzz_"$name" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" > "$log" 2>&1
  rc=$?
  set -e
  local seconds runs cov ft crashes
  seconds=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crashes=$(find "$artifacts" -type f -newer "$log.start" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if [[ $rc -ne 0 && $crashes -eq 0 ]]; then crashes=1; fi  # died without an artifact: still a failure
  echo "$name ${runs:-0} ${cov:-?} ${ft:-?} $crashes $seconds" > "build-fuzz/fuzz-logs/$name.row"
}

# The harnesses run $JOBS at a time (each is one process on one core), rows printed in name order.
mkdir -p build-fuzz/fuzz-logs
start_all=$(date +%s)
running=0
for name in "${harnesses[@]}"; do
  rm -f "build-fuzz/fuzz-logs/$name.row"
  run_one "$name" &
  running=$((running + 1))
  if [[ $running -ge $JOBS ]]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
total_runs=0
total_crashes=0
printf '%-18s %12s %8s %8s %8s %8s\n' harness executions cov ft crashes seconds
for name in "${harnesses[@]}"; do
  row="build-fuzz/fuzz-logs/$name.row"
  if [[ ! -f $row ]]; then echo "$name 0 ? ? 1 0" > "$row"; fi
  read -r _ runs cov ft crashes seconds < "$row"
  printf '%-18s %12s %8s %8s %8s %8s\n' "$name" "$runs" "$cov" "$ft" "$crashes" "$seconds"
  if [[ $crashes -ne 0 ]]; then
    echo "  $name: see build-fuzz/fuzz-logs/$name.log and build-fuzz/fuzz-artifacts/$name/" >&2
    grep -m3 -E 'ERROR|runtime error|fuzz property violated|uncaught exception|deadly signal' \
      "build-fuzz/fuzz-logs/$name.log" | sed 's/^/    /' >&2 || true
  fi
  total_runs=$((total_runs + runs))
  total_crashes=$((total_crashes + crashes))
done
printf '%-18s %12s %8s %8s %8s %8s\n' total "$total_runs" "" "" "$total_crashes" "$(($(date +%s) - start_all))"
[[ $total_crashes -eq 0 ]]
