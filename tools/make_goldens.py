#!/usr/bin/env python3
"""make_goldens.py — writes the PyTorch parity fixtures tests/goldens/<family>.safetensors.

Each module tools/goldens/<family>.py defines build(g: Goldens) that adds cases. Run with Debian's
python3-torch (`make goldens`); the fixtures are committed so the tests never need Python. The
metrics family (eval/ against scikit-learn) also needs python3-sklearn.
A family whose module defines FILES (a list of names) writes one fixture per name instead:
build(g) is called once per file with g.family set to that name (e.g. resnet: one per architecture).
Helper modules (common.py, philox.py) are not families.
Usage: make_goldens.py [family ...]   (default: every family)
"""
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "goldens"))

import torch  # noqa: E402

from common import Goldens  # noqa: E402

HELPERS = {"common", "philox"}


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    families = sys.argv[1:] or sorted(
        f[:-3] for f in os.listdir(os.path.join(HERE, "goldens")) if f.endswith(".py") and f[:-3] not in HELPERS)
    out_dir = os.path.join(HERE, "..", "tests", "goldens")
    os.makedirs(out_dir, exist_ok=True)
    for family in families:
        module = importlib.import_module(family)
        for name in getattr(module, "FILES", [family]):
            g = Goldens(name)
            module.build(g)
            path = os.path.join(out_dir, name + ".safetensors")
            g.save(path)
            print(f"{name}: {len(g.tensors)} tensors, {os.path.getsize(path)} bytes -> {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
