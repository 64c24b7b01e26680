"""gradcam.py — Grad-CAM parity fixtures for interpret/gradcam.cpp (tests/test_interpret.cpp),
tests/goldens/gradcam.safetensors.

The model is resnet128_6_2_1 (resnet256_6_2_1's layers on a 128 input: layer4 64@8x8, layer5
128@4x4, layer6 192@2x2, z 192-d) built with resnet.py's ResNet class and weights drawn with
resnet.py's Philox recipe (generated_parameters, seed = S = 128; imported, not copied; the fc1
bound 1/sqrt(768) is that recipe's constant). Only the Linear layer differs from resnet.py's
768-input one: it is Linear(192, C). BatchNorm running statistics are drawn too, so that eval
mode differs visibly from train mode: buffers in sorted-name order from Generator(S + 3),
    running_mean = randn * 0.1,  running_var = rand * 0.5 + 0.75   (rounded to float32)
(num_batches_tracked stays 0). The image x (1, 1, S, S) is Generator(S + 4).rand, rounded to float32.
The reference runs in float64 (model.double()) on those float32 values and in eval mode.

Grad-CAM (Selvaraju et al. 2017) is computed the usual PyTorch way, with a forward hook on the
layer and a tensor hook for its gradient:
    A = layer output (1, K, h, w), y = logits[0, c] (c = arg max when the case's target is -1),
    G = dy/dA, alpha_k = mean_{u,v} G_k(u,v), cam = relu(sum_k alpha_k A_k) (h, w),
    up = F.interpolate(cam, (S, S), bilinear, align_corners=False), heatmap = up / max(up).
Keys per case <name>: <name>.target (int64 [1]: the class used), <name>.logits (float64 (C)),
<name>.alpha (float64 (K)), <name>.cam (float64 (h, w)), <name>.heatmap (float32 (S, S)).
Cases: l6 (4 outputs, layer6, arg max = class 2), l5 (4 outputs, layer5, class 1), l4 (4 outputs,
layer4, class 1), one (1 output, layer6, target -1 = the single logit), zero (4 outputs, layer6,
class 0: every alpha-weighted sum is negative, so cam and heatmap are all zero). Every other case
has a cam with both zero and positive cells.
Upsampling cases up.<name>.in (float64 (h, w)) -> up.<name>.out = F.interpolate(bilinear,
align_corners=False) to the size in metadata upsample_sizes, drawn from g.gen.
"""
import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import resnet
from philox import Generator

ARCH = "resnet128_6_2_1"
SIZE = 128
CHANNELS = [8, 16, 32, 64, 128, 192]
EMBEDDING = 192  # 192 @ 1x1 after AvgPool2d(2) of layer6's 2x2
# (case, outputs, layer, target)
CASES = [("l6", 4, "layer6", -1), ("l5", 4, "layer5", 1), ("l4", 4, "layer4", 1), ("one", 1, "layer6", -1),
         ("zero", 4, "layer6", 0)]
UPSAMPLE = {"a": ((3, 5), (7, 12)), "b": ((2, 2), (128, 128)), "c": ((5, 4), (3, 7)), "d": ((1, 3), (4, 4))}


def make_model(outputs):
    resnet.CONFIGS.setdefault(ARCH, (SIZE, 3, 1, 1, CHANNELS))
    torch.manual_seed(0)  # only the throw-away default init uses it; every value is overwritten
    model = resnet.ResNet(ARCH, outputs)
    model.fc1 = nn.Linear(EMBEDDING, outputs)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    params = resnet.generated_parameters(ARCH, shapes)
    stats = Generator(SIZE + 3)
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(torch.from_numpy(params[n]))
        buffers = dict(model.named_buffers())
        for n in sorted(buffers):
            b = buffers[n]
            if n.endswith("running_mean"):
                b.copy_(torch.from_numpy((stats.randn(tuple(b.shape)) * 0.1).astype(np.float32)))
            elif n.endswith("running_var"):
                b.copy_(torch.from_numpy((stats.rand(tuple(b.shape)) * 0.5 + 0.75).astype(np.float32)))
    return model.double().eval()


def grad_cam(model, x, layer, target):
    saved = {}

    def hook(module, inputs, output):
        saved["A"] = output
        output.register_hook(lambda grad: saved.__setitem__("G", grad))

    handle = getattr(model, layer).register_forward_hook(hook)
    logits = model(x)[0]
    handle.remove()
    c = int(logits[0].argmax().item()) if target < 0 else target
    model.zero_grad()
    logits[0, c].backward()
    A, G = saved["A"][0].detach(), saved["G"][0]
    alpha = G.mean(dim=(1, 2))
    cam = F.relu((alpha[:, None, None] * A).sum(0))
    up = F.interpolate(cam[None, None], size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0, 0]
    heatmap = up / up.max() if up.max() > 0 else up
    return c, logits[0].detach(), alpha, cam, heatmap


def build(g):
    x = torch.from_numpy(Generator(SIZE + 4).rand((1, 1, SIZE, SIZE)).astype(np.float32)).double()
    models = {}
    for name, outputs, layer, target in CASES:
        model = models.setdefault(outputs, make_model(outputs))
        c, logits, alpha, cam, heatmap = grad_cam(model, x, layer, target)
        if name == "zero":
            assert cam.max() == 0, "zero: the cam should be all zero"
        else:
            assert cam.max() > 0 and (cam == 0).any(), f"{name}: choose a case whose cam is neither all zero nor all positive"
        g.tensors[f"{name}.target"] = torch.tensor([c], dtype=torch.int64)
        g.tensors[f"{name}.logits"] = logits.clone()
        g.tensors[f"{name}.alpha"] = alpha.clone()
        g.tensors[f"{name}.cam"] = cam.clone()
        g.tensors[f"{name}.heatmap"] = heatmap.float()
    sizes = {}
    for name, (shape, out_size) in UPSAMPLE.items():
        m = g.rand(*shape).double()
        g.tensors[f"up.{name}.in"] = m
        g.tensors[f"up.{name}.out"] = F.interpolate(m[None, None], size=out_size, mode="bilinear",
                                                    align_corners=False)[0, 0]
        sizes[name] = list(out_size)
    g.metadata.update({
        "arch": ARCH,
        "cases": json.dumps([list(c) for c in CASES]),
        "upsample_sizes": json.dumps(sizes),
        "recipe": "tools/goldens/gradcam.py docstring",
    })
