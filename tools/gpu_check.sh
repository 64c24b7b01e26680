#!/usr/bin/env bash
# gpu_check.sh — `make gpu-check`: everything a session with a GPU should run, unattended, in one
# call, in at most ~8 minutes on one H100 or H200 (docs/CUDA.md):
#   1. builds with CUDA for this machine's GPU only (CMAKE_CUDA_ARCHITECTURES=native), in build-gpu/
#   2. runs every GPU test (the test cases named "cuda*" of cxr_tests), CUDA_LAUNCH_BLOCKING=0
#   3. times resnet256_6_2_1 training and inference at batch 8 and 64, and the 4-layer encoder's
#      training step (batch 32 x 320), each with the hand-written and with the cuBLAS/cuDNN kernels
#   4. runs the kernel study's bench (cxr-kernels) when it is built
#   5. writes OUT/gpu_check.json (device, test summary, every timing) and prints a table
# OUT is $GPU_CHECK_OUT, or build-gpu/gpu-check. Each step has its own time limit, so a hung kernel
# cannot eat the machine's budget; a failed step is recorded and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${GPU_CHECK_OUT:-build-gpu/gpu-check}
JOBS=${JOBS:-$(nproc)}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
say() { echo "gpu-check: $*" | tee -a "$LOG"; }
start=$(date +%s)

if ! command -v nvidia-smi > /dev/null || ! nvidia-smi -L >> "$LOG" 2>&1; then
  say "no NVIDIA GPU answers here (nvidia-smi); nothing to check"
  exit 2
fi
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)
say "device: $gpu"

# ---- 1. build ----
say "building (CUDA architectures: native, $JOBS jobs)"
build_status=ok
if ! timeout 300 bash -c "cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCXR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=native > '$OUT/build.log' 2>&1 &&
     cmake --build build-gpu -j $JOBS --target cxr_tests cxr_bench_compare cxr >> '$OUT/build.log' 2>&1"; then
  build_status=failed
  say "build failed: see $OUT/build.log"; tail -30 "$OUT/build.log" | tee -a "$LOG"
fi
cmake --build build-gpu -j "$JOBS" --target cxr-kernels >> "$OUT/build.log" 2>&1 || true
say "build: $build_status ($(( $(date +%s) - start )) s)"

# ---- 2. the GPU tests ----
tests_status=skipped
tests_summary='""'
if [[ $build_status == ok ]]; then
  say "running the GPU tests (cxr_tests -tc='cuda*')"
  timeout 180 build-gpu/cxr_tests -tc='cuda*' --no-version > "$OUT/tests.log" 2>&1
  rc=$?
  tests_status=$([[ $rc == 0 ]] && echo passed || echo "failed (exit $rc)")
  summary=$(grep -E '^\[doctest\] (test cases|assertions)' "$OUT/tests.log" | tr '\n' ' ' | sed 's/"/\\"/g')
  tests_summary="\"$summary\""
  skipped=$(grep -c 'CXR-TEST-SKIPPED' "$OUT/tests.log" || true)
  say "GPU tests: $tests_status; $summary; $skipped skip messages"
  [[ $rc != 0 ]] && grep -E 'ERROR|FAILED|THREW' "$OUT/tests.log" | head -40 | tee -a "$LOG"
fi

# ---- 3. timings ----
rows=()
time_row() {  # NAME ARGS...
  local name=$1; shift
  local line
  if line=$(timeout 120 build-gpu/cxr_bench_compare "$@" 2>> "$OUT/bench.err" | tail -1) && [[ $line == \{* ]]; then
    rows+=("{\"name\": \"$name\", \"result\": $line}")
  else
    rows+=("{\"name\": \"$name\", \"error\": \"failed or timed out (see bench.err)\"}")
  fi
}
if [[ $build_status == ok ]]; then
  say "timing the models (hand and library kernels)"
  for kernels in hand library; do
    for b in 8 64; do
      time_row "resnet256_6_2_1 train, batch $b, $kernels" resnet_train --device cuda --kernels $kernels --batch $b --iters 10 --warmup 3
      time_row "resnet256_6_2_1 inference, batch $b, $kernels" resnet_infer --device cuda --kernels $kernels --batch $b --iters 20 --warmup 3
    done
    time_row "encoder train, batch 32 x 320, $kernels" transformer_train --device cuda --kernels $kernels --batch 32 --seq 320 --iters 10 --warmup 3
    time_row "sgemm 4096^3, $kernels" sgemm1024 --device cuda --kernels $kernels --size 4096 --iters 20 --warmup 3
  done
fi

# ---- 3b. against PyTorch on the same GPU (make bench-compare DEVICE=cuda), where its PyTorch has
# CUDA; without it the hand-vs-library rows above are the comparison (bench/compare.py says so too).
compare_status=skipped
if [[ $build_status == ok ]] && /usr/bin/python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null; then
  say "bench-compare DEVICE=cuda (cxrlab hand, cuBLAS/cuDNN, PyTorch)"
  if timeout 300 /usr/bin/python3 bench/compare.py --device cuda --bin build-gpu/cxr_bench_compare --out "$OUT" \
      > "$OUT/compare-cuda.log" 2>&1; then compare_status=ok; else compare_status=failed; fi
  tail -8 "$OUT/compare-cuda.log" | tee -a "$LOG"
else
  say "bench-compare DEVICE=cuda skipped: no PyTorch with CUDA here"
fi

# ---- 4. the kernel study (issue: cuda/kernels/, bench/cuda/) ----
kernels_status=absent
if [[ -x build-gpu/cxr-kernels ]]; then
  say "running cxr-kernels"
  if timeout 240 build-gpu/cxr-kernels --out "$OUT/kernels.json" > "$OUT/kernels.log" 2>&1; then
    kernels_status=ok
  else
    kernels_status=failed
  fi
  tail -60 "$OUT/kernels.log" | tee -a "$LOG"
fi

# ---- 5. the report ----
{
  echo "{"
  echo "  \"device\": \"$gpu\","
  echo "  \"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\","
  echo "  \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo "  \"build\": \"$build_status\","
  echo "  \"tests\": \"$tests_status\", \"tests_summary\": $tests_summary,"
  echo "  \"kernel_study\": \"$kernels_status\","
  echo "  \"bench_compare_cuda\": \"$compare_status\","
  echo "  \"seconds\": $(( $(date +%s) - start )),"
  echo "  \"timings\": ["
  for i in "${!rows[@]}"; do echo "    ${rows[$i]}$([[ $i -lt $(( ${#rows[@]} - 1 )) ]] && echo ,)"; done
  echo "  ]"
  echo "}"
} > "$OUT/gpu_check.json"

# The table: median ms per row (from the "ms" array of each result).
printf '\n%-48s %10s %10s\n' "row" "median ms" "min ms" | tee -a "$LOG"
for r in "${rows[@]}"; do
  name=$(sed -E 's/^\{"name": "([^"]*)".*/\1/' <<< "$r")
  ms=$(sed -nE 's/.*"ms": \[([^]]*)\].*/\1/p' <<< "$r")
  if [[ -z $ms ]]; then printf '%-48s %10s\n' "$name" "failed" | tee -a "$LOG"; continue; fi
  tr ',' '\n' <<< "$ms" | sort -g | awk -v name="$name" '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%-48s %10.2f %10.2f\n", name, m, v[1]}' | tee -a "$LOG"
done
say "done in $(( $(date +%s) - start )) s; $OUT/gpu_check.json"
[[ $build_status == ok && $tests_status == passed ]]
