#!/usr/bin/env bash
# distributed.sh — data-parallel scaling on this machine (docs/DISTRIBUTED.md): the same training
# (resnet128_6_2_1 on 128-pixel phantoms, global batch 16) run as
#   A. 1 process x 2 threads, --batch-size 16
#   B. mpirun -np 2, 1 thread each, --batch-size 8 --distributed
# and the median step time of each (from metrics.jsonl's elapsed_s, steps within one epoch only,
# the first WARMUP steps dropped), with B's all-reduce wait (the part of the gradient sums the
# backward did not hide), the reducer's whole finish (that wait plus writing the mean back into
# every .grad) and control-sum time (which includes waiting for the slower rank).
# Writes bench/results/distributed-<host>.json and prints a table.
# The machine is shared, so A and B alternate for ROUNDS rounds and the medians pool every round.
#   bench/distributed.sh   (environment: STEPS=40 WARMUP=5 ROUNDS=3 N=400)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-40}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-5}
N=${N:-400}
CXR=${CXR:-build/cxr}
[[ -x $CXR ]] || { echo "distributed.sh: build cxr first (make)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "distributed.sh: no mpirun (Debian openmpi-bin)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=${DATA:-$work/phantoms}
[[ -f $data/manifest.csv ]] || "$CXR" phantom --n "$N" --seed 7 --size 128 --out "$data" --threads 2 >/dev/null
common=(train --method image --manifest "$data/manifest.csv" --arch resnet128_6_2_1 --epochs 100 --max-steps "$STEPS"
        --log-every 1 --bootstrap 10 --progress 0 --seed 1 --workers 1)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS, A: 1 process x 2 threads, batch 16" >&2
  CXR_THREADS=2 "$CXR" "${common[@]}" --out "$work/a$round" --batch-size 16 --threads 2 >/dev/null 2>"$work/a.err"
  echo "round $round/$ROUNDS, B: 2 processes x 1 thread, batch 8 each (--distributed)" >&2
  CXR_THREADS=1 mpirun -np 2 --oversubscribe --bind-to none "$CXR" "${common[@]}" --out "$work/b$round" --batch-size 8 \
    --threads 1 --distributed >/dev/null 2>"$work/b.err"
done
mkdir -p bench/results
/usr/bin/python3 - "$work" "$ROUNDS" "$WARMUP" "bench/results/distributed-$(hostname).json" "$(cat /proc/loadavg)" <<'PY'
import json, statistics, sys
work, rounds, warmup, out, load = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def steps(run):
    dt, dist = [], []
    for r in range(1, rounds + 1):
        d, x = steps_of(f"{work}/{run}{r}/metrics.jsonl")
        dt += d
        dist += x
    return dt, dist
def steps_of(path):
    ev = [json.loads(l) for l in open(path)]
    st = [e for e in ev if e["event"] == "step"]
    dt, dist = [], []
    for prev, cur in zip(st, st[1:]):
        if cur["epoch"] != prev["epoch"] or cur["step"] <= warmup:  # validation between epochs; warm-up
            continue
        dt.append(cur["elapsed_s"] - prev["elapsed_s"])
        if "dist" in cur:
            dist.append(cur["dist"])
    return dt, dist
a, _ = steps("a")
b, bd = steps("b")
med = statistics.median
r = {
    "model": "resnet128_6_2_1", "global_batch": 16, "rounds": rounds, "steps_timed": [len(a), len(b)],
    "loadavg_after": load,
    "one_process_two_threads": {"step_s_median": med(a)},
    "two_processes_one_thread": {
        "step_s_median": med(b),
        "allreduce_wait_s_median": med(d["wait_s"] for d in bd),
        "reduce_finish_s_median": med(d["reduce_s"] for d in bd),
        "control_sync_s_median": med(d["sync_s"] for d in bd),
        "rank0_step_s_median": med(d["step_s"] for d in bd),
    },
}
r["speedup_two_processes"] = r["one_process_two_threads"]["step_s_median"] / r["two_processes_one_thread"]["step_s_median"]
json.dump(r, open(out, "w"), indent=2)
b2 = r["two_processes_one_thread"]
print(f"{'run':34} {'step (median)':>14} {'all-reduce wait':>16} {'reducer finish':>15} {'control sums':>13}")
print(f"{'1 process x 2 threads, batch 16':34} {med(a)*1e3:11.1f} ms {'-':>16} {'-':>15} {'-':>13}")
print(f"{'2 processes x 1 thread, batch 8x2':34} {b2['step_s_median']*1e3:11.1f} ms {b2['allreduce_wait_s_median']*1e3:13.2f} ms {b2['reduce_finish_s_median']*1e3:12.2f} ms {b2['control_sync_s_median']*1e3:10.2f} ms")
print(f"speed-up of 2 x 1 over 1 x 2: {r['speedup_two_processes']:.3f}   ({out})")
PY
