#!/usr/bin/python3
"""test_convert_torch_checkpoint.py — tools/convert_torch_checkpoint.py run as a program: the
written bytes, prefix stripping, checkpoint layouts, and every error path (exit 1 with a message).
A ctest test (CMakeLists.txt); exits 77 (ctest: skipped) when PyTorch is not installed. The C++
side reads the converter's output in tests/test_infer.cpp (tests/fixtures/converted_dtypes).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("CXR-TEST-SKIPPED: python3-torch is not installed")
    sys.exit(77)

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "convert_torch_checkpoint.py")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")


def run(*args):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    check(n % 8 == 0, "header padded to 8 bytes")
    header = json.loads(data[8:8 + n])
    return header, data[8 + n:]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        def path(name):
            return os.path.join(tmp, name)

        sd = {
            "module.conv.weight": torch.randn(2, 3, 3, 3),
            "module.bn.num_batches_tracked": torch.tensor(5),
            "module.mask": torch.tensor([True, False]),
            "module.half": torch.tensor([1.0, -2.5], dtype=torch.float16),
            "module.brain": torch.tensor([0.1, 3.0], dtype=torch.bfloat16),
            "module.double": torch.tensor([1e-300], dtype=torch.float64),
            "module.t": torch.arange(6.0).reshape(2, 3).t(),
            "head.bias": torch.zeros(2),  # no prefix: kept as is
        }
        torch.save({"state_dict": sd, "epoch": 3, "optimizer": {"step": 10}}, path("train.pt"))
        rc, out, err = run(path("train.pt"), path("out.safetensors"), "--prefix-strip", "module.")
        check(rc == 0, f"conversion succeeds: {err}")
        check("8 tensors" in out and "7 keys stripped" in out, f"summary line: {out}")
        header, data = read_safetensors(path("out.safetensors"))
        meta = header.pop("__metadata__")
        check(meta.get("format") == "pt" and meta.get("source") == "train.pt", f"metadata {meta}")
        check(sorted(header) == sorted(["conv.weight", "bn.num_batches_tracked", "mask", "half", "brain", "double", "t",
                                        "head.bias"]), f"keys {sorted(header)}")
        codes = {k: v["dtype"] for k, v in header.items()}
        check(codes == {"conv.weight": "F32", "bn.num_batches_tracked": "I64", "mask": "BOOL", "half": "F16",
                        "brain": "BF16", "double": "F64", "t": "F32", "head.bias": "F32"}, f"dtypes {codes}")
        end = 0
        for key, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            b, e = entry["data_offsets"]
            check(b == end, f"{key}: contiguous data offsets")
            end = e
            src = sd[key if key == "head.bias" else "module." + key].contiguous()
            check(entry["shape"] == list(src.shape), f"{key}: shape")
            raw = data[b:e]
            if src.dtype == torch.bool:
                expect = src.to(torch.uint8).numpy().tobytes()
            elif src.dtype in (torch.float16, torch.bfloat16):
                expect = src.view(torch.int16).numpy().tobytes()
            else:
                expect = src.numpy().tobytes()
            check(raw == expect, f"{key}: bytes")
        check(end == len(data), "no trailing bytes")

        # Other layouts: a bare state_dict, {"model": ...}.
        torch.save({"w": torch.ones(2)}, path("bare.pt"))
        check(run(path("bare.pt"), path("bare.safetensors"))[0] == 0, "bare state_dict")
        torch.save({"model": {"w": torch.ones(2)}}, path("model.bin"))
        check(run(path("model.bin"), path("model.safetensors"))[0] == 0, "{'model': state_dict}")

        # Errors: exit code 1 and a message naming the file and the problem.
        def expect_error(args, message, what):
            rc, out, err = run(*args)
            check(rc == 1 and message in err, f"{what}: rc {rc}, stderr {err!r}")

        expect_error([path("missing.pt"), path("x.safetensors")], "missing.pt: no such file", "missing input")
        with open(path("text.pt"), "w") as f:
            f.write("not a checkpoint")
        expect_error([path("text.pt"), path("x.safetensors")], "text.pt: cannot load as a PyTorch checkpoint", "not a checkpoint")
        torch.save({"w": torch.ones(2, dtype=torch.int32)}, path("int32.pt"))
        expect_error([path("int32.pt"), path("x.safetensors")], "entry 'w' has dtype int32, which cxr does not read",
                     "unsupported dtype")
        torch.save({"w": torch.ones(2), "step": 7}, path("nontensor.pt"))
        expect_error([path("nontensor.pt"), path("x.safetensors")], "entry 'step' is a int, not a tensor", "non-tensor")
        torch.save({"module.w": torch.ones(2), "w": torch.ones(2)}, path("clash.pt"))
        expect_error([path("clash.pt"), path("x.safetensors"), "--prefix-strip", "module."],
                     "two entries map to 'w'", "prefix collision")
        torch.save({}, path("empty.pt"))
        expect_error([path("empty.pt"), path("x.safetensors")], "the state_dict is empty", "empty")
        torch.save({"w": torch.ones(2).to_sparse()}, path("sparse.pt"))
        expect_error([path("sparse.pt"), path("x.safetensors")], "only dense tensors convert", "sparse")
        expect_error([path("bare.pt"), path("no-such-dir/x.safetensors")], "cannot write", "unwritable output")
        check(not os.path.exists(path("x.safetensors")), "no output written on errors")

        # A trusted checkpoint that pickles other objects needs --unsafe-pickle.
        torch.save({"state_dict": {"w": torch.ones(2)}, "args": argparse.Namespace(lr=0.1)}, path("args.pt"))
        expect_error([path("args.pt"), path("x.safetensors")], "--unsafe-pickle", "weights_only refuses objects")
        check(run(path("args.pt"), path("args.safetensors"), "--unsafe-pickle")[0] == 0, "--unsafe-pickle loads it")

    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("convert_torch_checkpoint: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
