#!/usr/bin/env python3
"""make_goldens.py — writes the PyTorch parity fixtures tests/goldens/<family>.safetensors.

Each module tools/goldens/<family>.py defines build(g: Goldens) that adds cases. Run with Debian's
python3-torch (`make goldens`); the fixtures are committed so the tests never need Python.
Usage: make_goldens.py [family ...]   (default: every family)
"""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "goldens"))

import torch  # noqa: E402

from common import Goldens  # noqa: E402


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    families = sys.argv[1:] or sorted(
        f[:-3] for f in os.listdir(os.path.join(HERE, "goldens")) if f.endswith(".py") and f != "common.py")
    out_dir = os.path.join(HERE, "..", "tests", "goldens")
    os.makedirs(out_dir, exist_ok=True)
    for family in families:
        g = Goldens(family)
        importlib.import_module(family).build(g)
        path = os.path.join(out_dir, family + ".safetensors")
        g.save(path)
        print(f"{family}: {len(g.tensors)} tensors -> {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
