#!/usr/bin/python3
"""make_infer_fixture.py — the PyTorch reference for `cxr infer` (tests/test_infer.cpp).

1. Builds resnet256_6_2_1 in PyTorch (METHODS.md §3; the reference code's parameter names), with
   seeded random weights, random BatchNorm affine parameters and running statistics from a few
   train-mode forwards on random inputs.
2. Casts the state_dict's floating tensors to bfloat16 (num_batches_tracked stays int64) so the
   committed checkpoint is small, saves it as a .pt, and converts it with
   tools/convert_torch_checkpoint.py into tests/fixtures/resnet256_bf16.safetensors.
3. Runs the model with those bf16-rounded weights (back in float32) on the 16 images of
   ../shared/data/mimic-examples/images, read as the reference reads them (PIL, 16-bit), center
   crop 256 (torchvision CenterCrop offsets), x / max(1e-3, max(x)), eval mode; writes the logits
   (and the embedding of the first image) to tests/fixtures/mimic_examples_logits.json.
4. Writes tests/fixtures/converted_dtypes.safetensors: one tensor of each dtype the converter keeps.

Run: /usr/bin/python3 tools/make_infer_fixture.py   (needs python3-torch, python3-pil, the data)
"""
import json
import os
import sys
import tempfile

import numpy as np
import torch
from PIL import Image
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import convert_torch_checkpoint  # noqa: E402

IMAGES = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "mimic-examples", "images"))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
SEED = 20240521
CROP = 256


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = (nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                           if downsample else None)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet256_6_2_1(nn.Module):
    """conv1 k3 s1 p1 -> 8@256; layer1..6 (8,16,32,64,128,192; 2 blocks, the first stride 2 with a
    downsample) -> 192@4 -> AvgPool2d(2) -> 768 -> fc1."""

    def __init__(self, output_channels=4):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        inplanes = 8
        for i, planes in enumerate([8, 16, 32, 64, 128, 192]):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(inplanes, planes, 2, True),
                                                         BasicBlock(planes, planes, 1, False)))
            inplanes = planes
        self.avgpool = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(768, output_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for i in range(6):
            x = getattr(self, f"layer{i + 1}")(x)
        z = torch.flatten(self.avgpool(x), 1)
        return self.fc1(z), z


def load_reference_image(path):
    """As the reference dataset: PIL -> numpy (uint16 kept exactly) -> float32, center crop, scale."""
    img = np.array(Image.open(path)).astype(np.float32)
    assert img.ndim == 2, f"{path}: expected a grayscale image, got shape {img.shape}"
    h, w = img.shape
    top, left = int(round((h - CROP) / 2.0)), int(round((w - CROP) / 2.0))  # torchvision CenterCrop
    x = torch.from_numpy(img[top:top + CROP, left:left + CROP].copy())
    assert x.shape == (CROP, CROP), f"{path}: image {w}x{h} smaller than the crop"
    return x / max(1e-3, x.max())


def write_dtype_fixture():
    """tests/fixtures/converted_dtypes.safetensors: every dtype the converter keeps, from a training
    checkpoint dict with DataParallel "module." keys, for the C++ reader (tests/test_infer.cpp)."""
    sd = {
        "module.f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1,
        "module.f64": torch.tensor([0.1, -1e300, 2.0], dtype=torch.float64),
        "module.i64": torch.tensor([-3, 0, 2 ** 40], dtype=torch.int64),
        "module.bool": torch.tensor([True, False, True]),
        "module.bf16": torch.tensor([1.5, -2.25, 3.140625, 0.1], dtype=torch.bfloat16),  # 0.1 -> 0.10009765625
        "module.f16": torch.tensor([0.5, -65504.0, 2.0 ** -24], dtype=torch.float16),  # max, smallest subnormal
        "module.scalar": torch.tensor(7.0),
        "module.transposed": torch.arange(6, dtype=torch.float32).reshape(2, 3).t(),  # non-contiguous
        "module.empty": torch.zeros(0, 3),
    }
    out = os.path.join(FIXTURES, "converted_dtypes.safetensors")
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "dtypes.pt")
        torch.save({"state_dict": sd, "epoch": 3}, pt)
        n, stripped = convert_torch_checkpoint.convert(pt, out, prefix="module.")
    assert n == stripped == len(sd)
    print(f"dtypes: {n} tensors -> {os.path.relpath(out, ROOT)}")


def main():
    if not os.path.isdir(IMAGES):
        sys.exit(f"error: {IMAGES} not found (the mimic-examples data set)")
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    os.makedirs(FIXTURES, exist_ok=True)
    write_dtype_fixture()
    model = ResNet256_6_2_1(4)
    with torch.no_grad():  # non-trivial BatchNorm affine parameters
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.2)
        model.train()
        for _ in range(3):  # running statistics from train-mode forwards on random images
            model(torch.rand(4, 1, CROP, CROP) * torch.rand(4, 1, 1, 1))

    state = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    os.makedirs(FIXTURES, exist_ok=True)
    out_ckpt = os.path.join(FIXTURES, "resnet256_bf16.safetensors")
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "resnet256_bf16.pt")
        torch.save(state, pt)
        n, _ = convert_torch_checkpoint.convert(pt, out_ckpt)
    print(f"checkpoint: {n} tensors -> {os.path.relpath(out_ckpt, ROOT)} ({os.path.getsize(out_ckpt)} bytes)")

    # The reference forward with the bf16-rounded weights, in float32 (and float64 for scale).
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    model.eval()
    model64 = ResNet256_6_2_1(4).double()
    model64.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in state.items()})
    model64.eval()
    names = sorted(f for f in os.listdir(IMAGES) if f.endswith(".png"))
    logits, embedding, diff64 = {}, None, 0.0
    with torch.no_grad():
        for name in names:
            x = load_reference_image(os.path.join(IMAGES, name))[None, None]
            y, z = model(x)
            y64, _ = model64(x.double())
            diff64 = max(diff64, (y.double() - y64).abs().max().item())
            logits[name] = [float(v) for v in y[0]]
            if embedding is None:
                embedding = {"image": name, "values": [float(v) for v in z[0]]}
    out = {
        "generator": "tools/make_infer_fixture.py",
        "torch": torch.__version__,
        "arch": "resnet256_6_2_1",
        "output_channels": 4,
        "checkpoint": "tests/fixtures/resnet256_bf16.safetensors",
        "preprocessing": "PIL 16-bit -> float32, center crop 256 (torchvision offsets), x / max(1e-3, max(x))",
        "torch_float32_vs_float64_max_abs_logit_diff": diff64,
        "logits": logits,
        "embedding": embedding,
    }
    path = os.path.join(FIXTURES, "mimic_examples_logits.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"logits of {len(names)} images -> {os.path.relpath(path, ROOT)}; "
          f"PyTorch float32 vs float64 max |logit diff| {diff64:.3g}")


if __name__ == "__main__":
    main()
