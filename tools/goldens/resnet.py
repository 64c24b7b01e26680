"""resnet.py — PyTorch parity fixtures for nn/models/resnet.cpp (tests/test_resnet.cpp): one file
per architecture of METHODS.md §3, tests/goldens/<arch>.safetensors, output channels 4, batch 2.

The reference architecture is re-created here from METHODS.md §3 (not imported from anywhere):
conv1/bn1/relu, layer1..layerL of two BasicBlocks each (conv1 bn1 conv2 bn2, downsample =
Sequential(conv1x1 stride 2, BN) on every layer's first block), AvgPool2d(2), flatten, fc1.

Nothing large is stored. Weights, inputs and probe vectors come from cxrlab's Philox generator
(philox.py), which the C++ test replays draw for draw. THE RECIPE (tests/test_resnet.cpp
fill_parameters must stay identical):
  * parameters in sorted-name order, all from one cxr::Generator(seed = input size S); each value is
    computed in float64 and then rounded to float32:
      4-D conv weight (O, I, kH, kW):  randn * sqrt(2 / (O kH kW))   (Kaiming-normal, fan_out)
      fc1.weight, then fc1.bias:       (rand * 2 - 1) * (1 / sqrt(768))   (PyTorch's Linear bound)
      other *.weight (BatchNorm):      randn * 0.1 + 1
      other *.bias (BatchNorm):        randn * 0.1
    BatchNorm buffers keep PyTorch's start: running_mean 0, running_var 1, num_batches_tracked 0.
  * input x (2, 1, S, S): Generator(S + 1).rand, rounded to float32; labels (1, 3).
  * gradient probes, one per parameter in sorted-name order: Generator(S + 2).rand * 2 - 1 (float64).
The reference runs in float64 on those float32 values, so the fixture is (to ~1e-15) the exact
answer: the C++ test replays it in float32 (the measured error is cxrlab's own rounding) and in
float64 (agreement to ~1e-12 wherever the fixture is float64: gradients, Adam, logits, z). Exact
gradients need the float64 replay: in float32 (PyTorch's as well) a ReLU input within rounding of
zero flips, which moves weight gradients of this batch-2 BatchNorm network by up to ~1e-1; see the
tolerance notes in tests/test_resnet.cpp.

Sequence and keys (layer5/layer6 maps stored as float32 to keep the files small, everything else
as float64):
  1. train-mode forward: train.{logits, z, layer5, layer6}; loss = CE(logits, labels): train.loss.
     backward: for every parameter p, grad.<p>.stats = [sum, L2 norm, dot(grad, probe)] and
     grad.<p>.head = the first 16 elements (row-major).
     Buffers after this one forward: running.<buffer key> (running_mean, running_var, num_batches_tracked).
  2. eval-mode forward (uses those running statistics): eval.{logits, z, layer5, layer6}.
  3. Adam (lr 5e-4, the reference image optimizer) from the state of 1: step with the grads of 1,
     then two more train-mode forward/backward/step; adam.losses = the train losses of the 3 steps
     (before each update); adam.<p>.delta = [sum, L2, dot(., probe)] of (p after 3 steps - p at start).
  Generation checks: param.<p>.head (first 8 values), param.<p>.stats = [sum, sum |.|],
  input.head (first 8), input.stats, probe.head (first 8 of the first parameter's probe).
  Metadata: arch, seed (S), state_dict_keys (JSON list, sorted), num_parameters, shapes (per stage:
  conv1, layer1..layerL, as [C, H, W]).
"""
import json
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from philox import Generator

FILES = ["resnet256_6_2_1", "resnet512_6_2_1", "resnet1024_7_2_1", "resnet2048_7_2_1"]

# arch: (input size, conv1 kernel, stride, padding, channels of layer1..layerL)
CONFIGS = {
    "resnet256_6_2_1": (256, 3, 1, 1, [8, 16, 32, 64, 128, 192]),
    "resnet512_6_2_1": (512, 3, 2, 1, [8, 16, 32, 64, 128, 192]),
    "resnet1024_7_2_1": (1024, 5, 2, 2, [8, 16, 32, 64, 128, 192, 192]),
    "resnet2048_7_2_1": (2048, 7, 4, 3, [8, 16, 32, 64, 128, 192, 192]),
}
# METHODS.md §3 table: (channels, H = W) after conv1, then after each layer.
TABLE = {
    "resnet256_6_2_1": [(8, 256), (8, 128), (16, 64), (32, 32), (64, 16), (128, 8), (192, 4)],
    "resnet512_6_2_1": [(8, 256), (8, 128), (16, 64), (32, 32), (64, 16), (128, 8), (192, 4)],
    "resnet1024_7_2_1": [(8, 512), (8, 256), (16, 128), (32, 64), (64, 32), (128, 16), (192, 8), (192, 4)],
    "resnet2048_7_2_1": [(8, 512), (8, 256), (16, 128), (32, 64), (64, 32), (128, 16), (192, 8), (192, 4)],
}
OUTPUT_CHANNELS = 4
BATCH = 2
LABELS = [1, 3]
ADAM_LR = 5e-4


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, arch, output_channels):
        super().__init__()
        _, k, s, p, channels = CONFIGS[arch]
        self.conv1 = nn.Conv2d(1, 8, k, s, p, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        inplanes = 8
        self.num_layers = len(channels)
        for i, planes in enumerate(channels):
            layer = nn.Sequential(BasicBlock(inplanes, planes, 2, True), BasicBlock(planes, planes, 1, False))
            setattr(self, f"layer{i + 1}", layer)
            inplanes = planes
        self.avgpool = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(768, output_channels)

    def forward(self, x, shapes=None):
        h = self.relu(self.bn1(self.conv1(x)))
        if shapes is not None:
            shapes.append(tuple(h.shape[1:]))
        maps = []
        for i in range(self.num_layers):
            h = getattr(self, f"layer{i + 1}")(h)
            maps.append(h)
            if shapes is not None:
                shapes.append(tuple(h.shape[1:]))
        z = torch.flatten(self.avgpool(h), 1)
        return self.fc1(z), z, maps[4], maps[5]


def generated_parameters(arch, shapes):
    """The recipe above: {name: float32 numpy array} for the sorted parameter names."""
    size = CONFIGS[arch][0]
    gen = Generator(size)
    bound = 1.0 / math.sqrt(768.0)
    values = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if len(shape) == 4:
            fan_out = shape[0] * shape[2] * shape[3]
            v = gen.randn(shape) * math.sqrt(2.0 / fan_out)
        elif name.startswith("fc1."):
            v = (gen.rand(shape) * 2.0 - 1.0) * bound
        elif name.endswith("weight"):
            v = gen.randn(shape) * 0.1 + 1.0
        else:
            assert name.endswith("bias"), name
            v = gen.randn(shape) * 0.1
        values[name] = v.astype(np.float32)
    return values


def probes(arch, shapes):
    gen = Generator(CONFIGS[arch][0] + 2)
    return {name: torch.from_numpy(gen.rand(shapes[name]) * 2.0 - 1.0) for name in sorted(shapes)}


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def signature(t, probe):
    t = t.detach().double()
    return f64([t.sum().item(), t.norm().item(), (t * probe).sum().item()])


def build(g):
    arch = g.family
    size = CONFIGS[arch][0]
    torch.manual_seed(0)  # only the throw-away default init uses it; every value is overwritten
    model = ResNet(arch, OUTPUT_CHANNELS)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    params = generated_parameters(arch, shapes)
    probe = probes(arch, shapes)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(torch.from_numpy(params[n]))
    model.double()
    for n, v in params.items():
        g.tensors[f"param.{n}.head"] = torch.from_numpy(v.reshape(-1)[:8].copy())
        g.tensors[f"param.{n}.stats"] = f64([v.astype(np.float64).sum(), np.abs(v.astype(np.float64)).sum()])
    first = sorted(shapes)[0]
    g.tensors["probe.head"] = probe[first].reshape(-1)[:8].clone()

    x32 = Generator(size + 1).rand((BATCH, 1, size, size)).astype(np.float32)
    g.tensors["input.head"] = torch.from_numpy(x32.reshape(-1)[:8].copy())
    g.tensors["input.stats"] = f64([x32.astype(np.float64).sum(), np.abs(x32.astype(np.float64)).sum()])
    x = torch.from_numpy(x32).double()
    labels = torch.tensor(LABELS)

    # 1. train-mode forward and backward
    model.train()
    stage_shapes = []
    logits, z, l5, l6 = model(x, stage_shapes)
    expected = [(c, hw, hw) for c, hw in TABLE[arch]]
    assert stage_shapes == expected, f"{arch}: {stage_shapes} != METHODS.md table {expected}"
    assert z.shape == (BATCH, 768) and logits.shape == (BATCH, OUTPUT_CHANNELS)
    for key, t in [("logits", logits), ("z", z), ("layer5", l5), ("layer6", l6)]:
        g.tensors[f"train.{key}"] = t.detach().float() if key.startswith("layer") else t.detach().clone()
    loss = F.cross_entropy(logits, labels)
    g.tensors["train.loss"] = f64([loss.item()])
    loss.backward()
    for n, p in model.named_parameters():
        g.tensors[f"grad.{n}.stats"] = signature(p.grad, probe[n])
        g.tensors[f"grad.{n}.head"] = p.grad.detach().reshape(-1)[:16].clone()
    for n, b in model.named_buffers():
        g.tensors[f"running.{n}"] = b.detach().clone()

    # 2. eval-mode forward with the running statistics of 1
    model.eval()
    with torch.no_grad():
        for key, t in zip(["logits", "z", "layer5", "layer6"], model(x)):
            g.tensors[f"eval.{key}"] = t.float() if key.startswith("layer") else t.clone()

    # 3. three Adam steps
    model.train()
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
    losses = [loss.item()]
    opt.step()
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x)[0], labels)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    g.tensors["adam.losses"] = f64(losses)
    for n, p in model.named_parameters():
        g.tensors[f"adam.{n}.delta"] = signature(p.detach() - start[n], probe[n])

    keys = sorted(model.state_dict().keys())
    g.metadata.update({
        "arch": arch,
        "seed": str(size),
        "state_dict_keys": json.dumps(keys),
        "num_parameters": str(sum(p.numel() for p in model.parameters())),
        "shapes": json.dumps([list(s) for s in stage_shapes]),
        "recipe": "tools/goldens/resnet.py docstring",
    })
