"""common.py — the fixture writer shared by every tools/goldens/<family>.py.

A case stores, under "<case>.":
  in0, in1, ...   the inputs (float32 inputs are made to require grad; int64/bool ones are not)
  out             the op's output
  gout            a random upstream gradient (when the output requires grad)
  gin0, gin1, ... the gradient of each float input
  in<i>.after     (case_inplace only) the value of input i after an op that updates it in place
Tests in tests/test_<family>.cpp replay each case through cxrlab and compare.
"""
import hashlib
import json
import struct

import torch

_CODES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.bool: "BOOL"}


class Goldens:
    def __init__(self, family):
        self.family = family
        self.tensors = {}
        self.metadata = {}  # extra string metadata for the file header (JSON-encode structured values)
        seed = int(hashlib.sha256(family.encode()).hexdigest()[:8], 16)
        self.gen = torch.Generator().manual_seed(seed)

    # ---- seeded inputs ----
    def randn(self, *shape):
        return torch.randn(*shape, generator=self.gen)

    def rand(self, *shape, low=0.0, high=1.0):
        return torch.rand(*shape, generator=self.gen) * (high - low) + low

    def randint(self, low, high, *shape):
        return torch.randint(low, high, shape, generator=self.gen)

    def case(self, name, fn, *inputs):
        assert not any(k.startswith(name + ".") for k in self.tensors), f"duplicate case {name}"
        leaves = []
        for i, x in enumerate(inputs):
            x = x.detach().clone()
            if x.is_floating_point():
                x.requires_grad_(True)
            leaves.append(x)
            self.tensors[f"{name}.in{i}"] = x.detach()
        out = fn(*leaves)
        self.tensors[f"{name}.out"] = out.detach()
        if out.requires_grad:
            gout = torch.randn(out.shape, generator=self.gen, dtype=out.dtype)
            out.backward(gout)
            self.tensors[f"{name}.gout"] = gout
            for i, x in enumerate(leaves):
                if x.requires_grad and x.grad is not None:
                    self.tensors[f"{name}.gin{i}"] = x.grad.detach()

    def case_inplace(self, name, fn, *inputs, mutated=()):
        """Like case(), for an op that also updates some of its inputs in place (e.g. batch-norm
        running statistics). Inputs whose position is in `mutated` never require grad; their values
        after the op are stored as "<case>.in<i>.after" for the test to compare."""
        assert not any(k.startswith(name + ".") for k in self.tensors), f"duplicate case {name}"
        leaves = []
        for i, x in enumerate(inputs):
            x = x.detach().clone()
            self.tensors[f"{name}.in{i}"] = x.detach().clone()
            if x.is_floating_point() and i not in mutated:
                x.requires_grad_(True)
            leaves.append(x)
        out = fn(*leaves)
        self.tensors[f"{name}.out"] = out.detach()
        for i in mutated:
            self.tensors[f"{name}.in{i}.after"] = leaves[i].detach().clone()
        if out.requires_grad:
            gout = torch.randn(out.shape, generator=self.gen, dtype=out.dtype)
            out.backward(gout)
            self.tensors[f"{name}.gout"] = gout
            for i, x in enumerate(leaves):
                if x.requires_grad and x.grad is not None:
                    self.tensors[f"{name}.gin{i}"] = x.grad.detach()

    def save(self, path):
        write_safetensors(path, self.tensors,
                          {"generator": "tools/make_goldens.py", "torch": torch.__version__, **self.metadata})


def write_safetensors(path, tensors, metadata):
    """A minimal safetensors writer (the format is a u64 header length, a JSON header, raw bytes)."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.dtype != torch.bool else t.to(torch.uint8).numpy().tobytes()
        header[key] = {"dtype": _CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
