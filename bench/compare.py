"""compare.py — `make bench-compare`: cxrlab against PyTorch, same rows, same sizes, same thread
count, in one run, interleaved. Rows: SGEMM 1024^3; resnet256_6_2_1 train step and inference at
batch 8; the 4-layer text encoder's train step at batch 8 x 320 (definitions in bench/compare.cpp).

  python3 bench/compare.py [--threads 2] [--iters 10] [--warmup 3] [--rounds 3] [--device cpu|cuda]
                           [--bin build/cxr_bench_compare] [--peer-blas DIR] [--out bench/results]

--device cuda (`make bench-compare DEVICE=cuda`) times the GPU rows instead: resnet256_6_2_1 train
step and inference at batch 64, the encoder's train step at batch 32 x 320, each step ending in a
device synchronize. Sides: cxrlab with its hand-written kernels, cxrlab with cuBLAS/cuDNN
(CXR_CUDA_KERNELS=library: the same graph on the vendor libraries, which separates the kernels'
share of a gap from the framework's), and PyTorch eager on the same GPU where this PyTorch has CUDA.
Where it has not (Debian's python3-torch is CPU-only) or PyTorch is absent, the script says so and
the ratio is against cuBLAS/cuDNN alone. Without a GPU it stops at once, naming the reason (exit 2).

Each row runs `rounds` times per side, each time in a fresh process (so peak RSS is the row's own),
alternating which side goes first; every process does `warmup` untimed iterations and then `iters`
timed ones. Reported per side: the median over all timed iterations, the spread of the per-round
medians, and the peak RSS (the largest of the rounds; getrusage ru_maxrss) plus the RSS before the
first timed iteration (a Python process starts with the interpreter and PyTorch loaded), and the
CPU time per iteration of all the process's threads (less sensitive to the machine's load than the
wall time; a spinning wait counts as CPU time). The ratio is cxrlab's median wall time over
PyTorch's: below 1 means cxrlab is faster.

The machine is shared, so absolute times drift with the load; only the ratios of one run mean much,
and the per-round ratios show how much they moved. PyTorch runs in two configurations per round:
its default, whose OpenMP threads spin while they wait, and OMP_WAIT_POLICY=PASSIVE, whose threads
sleep. On a loaded machine spinning threads steal the time of the thread they wait for (measured:
a resnet256 train step 3.1 s by default vs 0.97 s passive, at load 7 on 2 cores); on an idle one
spinning is the faster. The peer's figure in each row is the faster of the two, so the ratio never
flatters cxrlab; both are in the JSON. The table is printed and written as JSON under
bench/results/ (one file per run, named by time and commit).

PyTorch's float matmul goes to whatever BLAS the system's libblas.so.3 is; Debian's default is the
reference BLAS, which would make the SGEMM row meaningless. `make peer-openblas` unpacks Debian's
OpenBLAS into build/peer-openblas without installing it, and this script then points the peer at it
(LD_LIBRARY_PATH); --peer-blas DIR or CXR_PEER_BLAS_DIR name another directory. The BLAS the peer
actually loaded is recorded. Convolutions go to oneDNN either way.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = [
    ("sgemm1024", "SGEMM 1024^3"),
    ("resnet_train", "resnet256_6_2_1 train step, batch 8"),
    ("resnet_infer", "resnet256_6_2_1 inference, batch 8"),
    ("transformer_train", "4-layer encoder (256, 4 heads, FFN 1024) train step, batch 8 x 320"),
]
PENDING = []
# --device cuda: (row, title, the row's size flags). The thread count only feeds the host side.
CUDA_ROWS = [
    ("resnet_train", "resnet256_6_2_1 train step, batch 64", ["--batch", "64"]),
    ("resnet_infer", "resnet256_6_2_1 inference, batch 64", ["--batch", "64"]),
    ("transformer_train", "4-layer encoder train step, batch 32 x 320", ["--batch", "32", "--seq", "320"]),
]
BLAS_ROWS = {"sgemm1024", "transformer_train"}  # PyTorch's matmuls here go to BLAS: use OpenBLAS
DEFAULT_PEER_BLAS = os.path.join(ROOT, "build", "peer-openblas", "usr", "lib", "x86_64-linux-gnu", "openblas-pthread")


def run_json(cmd, env):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"compare.py: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def peer_cuda(python):
    """Whether the PyTorch of `python` can run on the GPU: (True, version) or (False, why)."""
    code = "import torch; print(torch.__version__); raise SystemExit(0 if torch.cuda.is_available() else 3)"
    p = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if p.returncode == 0:
        return True, p.stdout.strip()
    if p.returncode == 3:
        return False, f"PyTorch {p.stdout.strip()} has no CUDA device or was built without CUDA"
    return False, "PyTorch is not installed for " + python


def main_cuda(args):
    """--device cuda: cxrlab hand vs cxrlab on cuBLAS/cuDNN vs PyTorch (when it has CUDA)."""
    probe = subprocess.run([args.bin, "resnet_infer", "--device", "cuda", "--batch", "1", "--iters", "1",
                            "--warmup", "0"], capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"compare.py: --device cuda: {probe.stderr.strip() or 'exit ' + str(probe.returncode)}", file=sys.stderr)
        sys.exit(2)
    has_peer, peer_note = peer_cuda(args.python)
    if not has_peer:
        print(f"compare.py: {peer_note}: comparing the hand kernels with cuBLAS/cuDNN alone", file=sys.stderr)
    env = dict(os.environ, CXR_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    common = ["--iters", str(args.iters), "--warmup", str(args.warmup), "--threads", str(args.threads),
              "--device", "cuda"]
    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": git_commit(),
              "machine": machine(), "device": "cuda", "threads": args.threads, "iters": args.iters,
              "warmup": args.warmup, "rounds": args.rounds, "pytorch": peer_note, "rows": []}
    wanted = args.rows.split(",")
    for row, title, size in CUDA_ROWS:
        if row not in wanted:
            continue
        sides = {"hand": [args.bin, row] + common + size + ["--kernels", "hand"],
                 "library": [args.bin, row] + common + size + ["--kernels", "library"]}
        if has_peer:
            sides["pytorch"] = [args.python, os.path.join(ROOT, "bench", "torch_peer.py"), row] + common + size
        runs = {side: [] for side in sides}
        for r in range(args.rounds):
            order = list(sides.items())
            if r % 2:
                order.reverse()
            for side, cmd in order:
                runs[side].append(run_json(cmd, env))
            print(f"  {row}: round {r + 1}/{args.rounds} done", file=sys.stderr)
        stats = {side: summarize(rs, 0) for side, rs in runs.items()}
        against = "pytorch" if has_peer else "library"
        entry = {"row": row, "title": title, **stats, "against": against,
                 "ratio": round(stats["hand"]["median_ms"] / stats[against]["median_ms"], 3),
                 "hand_over_library": round(stats["hand"]["median_ms"] / stats["library"]["median_ms"], 3)}
        if "device" in runs["hand"][0]:
            report["gpu"] = runs["hand"][0]["device"]
        report["rows"].append(entry)
    head = f"{'row':<44} {'hand':>11} {'cuBLAS/cuDNN':>13} {'PyTorch':>11} {'hand/' + ('PyTorch' if has_peer else 'library'):>13}"
    print(head)
    print("-" * len(head))
    for e in report["rows"]:
        peer = f"{e['pytorch']['median_ms']:.2f} ms" if "pytorch" in e else "absent"
        print(f"{e['title']:<44} {e['hand']['median_ms']:>8.2f} ms {e['library']['median_ms']:>10.2f} ms {peer:>11} {e['ratio']:>13.3f}")
    print(f"GPU: {report.get('gpu', '?')}; PyTorch: {peer_note}")
    write_report(report, args.out)


def write_report(report, out):
    os.makedirs(out, exist_ok=True)
    name = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + report["commit"] + (
        "-cuda" if report.get("device") == "cuda" else "") + ".json"
    path = os.path.join(out, name)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"written: {os.path.relpath(path, ROOT)}")


def machine():
    info = {"platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "L2 cache", "L3 cache", "Flags"):
                value = value.strip()
                if key.strip() == "Flags":
                    value = " ".join(f for f in value.split() if f in ("avx2", "fma", "avx512f"))
                info[key.strip()] = value
        with open("/proc/meminfo") as f:
            info["memory"] = f.readline().split(":")[1].strip()
        info["load average"] = os.getloadavg()
    except OSError:
        pass
    return info


def git_commit():
    p = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return p.stdout.strip() + ("+dirty" if dirty else "")


def summarize(results, flops):
    all_ms = [t for r in results for t in r["ms"]]
    med = statistics.median(all_ms)
    round_medians = [statistics.median(r["ms"]) for r in results]
    out = {"median_ms": round(med, 3), "round_medians_ms": [round(m, 3) for m in round_medians],
           "min_ms": round(min(all_ms), 3), "iterations": len(all_ms),
           "peak_rss_mib": max(r["peak_rss_mib"] for r in results),
           "cpu_ms_per_iter": round(statistics.median(r["cpu_ms_per_iter"] for r in results), 2),
           "rss_start_mib": statistics.median(r["rss_start_mib"] for r in results)}
    if flops:
        out["gflops"] = round(flops / (med * 1e-3) / 1e9, 1)
    for key in ("impl", "isa", "kernels", "blas", "threads"):
        if key in results[0]:
            out[key] = results[0][key]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "cxr_bench_compare"))
    ap.add_argument("--peer-blas", default=os.environ.get("CXR_PEER_BLAS_DIR", ""))
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--rows", default=",".join(r for r, _ in ROWS))
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    if args.device == "cuda":
        return main_cuda(args)
    if args.iters < 10:
        print("compare.py: note: fewer than 10 timed iterations per process", file=sys.stderr)

    ours_env = dict(os.environ, CXR_THREADS=str(args.threads))
    peer_env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    # OpenBLAS for the rows whose matmuls go to BLAS (SGEMM, the transformer; with the reference
    # BLAS PyTorch's transformer step takes 15-18 s). Not for the ResNet rows: there BLAS serves just
    # the 768 -> 14 Linear, and OpenBLAS's own spinning threads beside PyTorch's OpenMP ones slowed
    # PyTorch's convolutions (measured: inference 1.2-1.4 s vs 0.7-1.1 s with the system BLAS).
    peer_blas = args.peer_blas or (DEFAULT_PEER_BLAS if os.path.isdir(DEFAULT_PEER_BLAS) else "")
    sgemm_env = dict(peer_env, OPENBLAS_NUM_THREADS=str(args.threads))
    if peer_blas:
        sgemm_env["LD_LIBRARY_PATH"] = peer_blas + os.pathsep + peer_env.get("LD_LIBRARY_PATH", "")
    common = ["--iters", str(args.iters), "--warmup", str(args.warmup), "--threads", str(args.threads)]
    wanted = args.rows.split(",")

    report = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": git_commit(),
              "machine": machine(), "threads": args.threads, "iters": args.iters, "warmup": args.warmup,
              "rounds": args.rounds, "rows": []}
    for row, title in ROWS:
        if row not in wanted:
            continue
        ours, peers = [], {"default": [], "passive": []}
        for r in range(args.rounds):
            peer_cmd = [args.python, os.path.join(ROOT, "bench", "torch_peer.py"), row] + common
            base_env = sgemm_env if row in BLAS_ROWS else peer_env
            order = [("ours", [args.bin, row] + common, ours_env),
                     ("default", peer_cmd, base_env),
                     ("passive", peer_cmd, dict(base_env, OMP_WAIT_POLICY="PASSIVE"))]
            if r % 2:
                order.reverse()
            for side, cmd, env in order:
                (ours if side == "ours" else peers[side]).append(run_json(cmd, env))
            print(f"  {row}: round {r + 1}/{args.rounds} done", file=sys.stderr)
        flops = ours[0].get("flops", 0)
        o = summarize(ours, flops)
        variants = {name: summarize(runs, flops) for name, runs in peers.items()}
        best = min(variants, key=lambda name: variants[name]["median_ms"])
        p = dict(variants[best], omp_wait_policy=best)
        per_round = [round(statistics.median(a["ms"]) / statistics.median(b["ms"]), 3) for a, b in zip(ours, peers[best])]
        report["rows"].append({"row": row, "title": title, "cxrlab": o, "pytorch": p,
                               "pytorch_variants": variants,
                               "ratio": round(o["median_ms"] / p["median_ms"], 3), "round_ratios": per_round})
    for row, title, why in PENDING:
        report["rows"].append({"row": row, "title": title, "status": why})
    report["machine"]["load average after"] = os.getloadavg()

    # ---- the table ----
    head = f"{'row':<40} {'cxrlab median':>16} {'PyTorch median':>16} {'ratio':>7}  {'round ratios':<22} {'peak RSS cxrlab / PyTorch (start)':<36}"
    print(head)
    print("-" * len(head))
    for r in report["rows"]:
        if "status" in r:
            print(f"{r['title']:<40} {r['status']}")
            continue
        o, p = r["cxrlab"], r["pytorch"]
        def cell(s):
            return f"{s['median_ms']:.1f} ms" + (f" {s['gflops']:.0f}GF/s" if "gflops" in s else "")
        rss = f"{o['peak_rss_mib']:.0f} ({o['rss_start_mib']:.0f}) / {p['peak_rss_mib']:.0f} ({p['rss_start_mib']:.0f}) MiB"
        print(f"{r['title']:<40} {cell(o):>16} {cell(p):>16} {r['ratio']:>7.3f}  {str(r['round_ratios']):<22} {rss}")
        others = ", ".join(f"{k} {v['median_ms']:.1f} ms" for k, v in r["pytorch_variants"].items())
        print(f"{'':<40} PyTorch OpenMP wait policy used: {p['omp_wait_policy']} ({others}); "
              f"CPU time per iteration, all threads: cxrlab {o['cpu_ms_per_iter']:.1f} ms, PyTorch "
              + ", ".join(f"{k} {v['cpu_ms_per_iter']:.1f} ms" for k, v in r["pytorch_variants"].items()))
    first = next((r for r in report["rows"] if "pytorch" in r), None)
    if first:
        print(f"\ncxrlab: {first['cxrlab'].get('kernels')} kernels, {first['cxrlab'].get('isa')}, "
              f"{args.threads} threads. PyTorch {first['pytorch']['impl']}, {args.threads} threads")
        for r in report["rows"]:
            if "pytorch" in r:
                print(f"  PyTorch BLAS in {r['row']}: {r['pytorch'].get('blas')}")
    print(f"machine: {report['machine'].get('Model name', '?')}, {report['machine'].get('cpus')} CPUs, "
          f"load average before {report['machine'].get('load average')}, after {report['machine']['load average after']}")
    blas_rows = [r for r in report["rows"] if r["row"] in BLAS_ROWS and "pytorch" in r]
    if any("openblas" not in r["pytorch"].get("blas", "").lower() for r in blas_rows):
        print("warning: the peer uses the reference BLAS, so its SGEMM and transformer rows are not meaningful "
              "targets; run `make peer-openblas` first", file=sys.stderr)

    write_report(report, args.out)


if __name__ == "__main__":
    main()
