"""torch_peer.py — PyTorch's side of `make bench-compare` (bench/compare.py): the same rows as
bench/compare.cpp, with the same sizes and thread count, printing the same JSON object.

  /usr/bin/python3 bench/torch_peer.py ROW [--iters N] [--warmup W] [--threads T]
                                     [--device cpu|cuda] [--batch B] [--seq L]

ROW: sgemm1024 | resnet_train | resnet_infer | transformer_train (definitions in
bench/compare.cpp). The ResNet is
resnet256_6_2_1 as nn/models/resnet.cpp builds it (conv1/bn1/relu, six layers of two BasicBlocks,
the first with a stride-2 conv1x1+BN downsample, AvgPool2d(2), flatten, fc1 768 -> 14), written
out here so the peer does not depend on any other file; so is the transformer encoder, as
nn/models/bert.cpp builds it (HuggingFace's BertModel: embeddings + LayerNorm + dropout, post-LN
layers with dropout on the attention probabilities and after each dense output, erf GELU, the
additive attention mask, a tanh pooler). The JSON also names the BLAS library
PyTorch has loaded (from /proc/self/maps): PyTorch's float matmul goes to BLAS, its convolutions to
oneDNN. --device cuda runs the row on the GPU (cuDNN, eager, default settings) and synchronizes
after every step, so a step's wall time is its GPU time; without CUDA in this PyTorch it exits 3
saying so (Debian's python3-torch is CPU-only). --batch and --seq as in bench/compare.cpp.
"""
import sys
import argparse
import json
import math
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if downsample:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class ResNet256(nn.Module):
    def __init__(self, classes=14):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        layers, inplanes = [], 8
        for planes in [8, 16, 32, 64, 128, 192]:
            layers.append(nn.Sequential(BasicBlock(inplanes, planes, 2, True), BasicBlock(planes, planes, 1, False)))
            inplanes = planes
        self.layers = nn.Sequential(*layers)
        self.fc1 = nn.Linear(768, classes)

    def forward(self, x):
        h = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc1(torch.flatten(F.avg_pool2d(h, 2), 1))


class BertLayer(nn.Module):
    def __init__(self, hidden=256, heads=4, ffn=1024, p=0.1, eps=1e-12):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.attn_out, self.ln1 = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=eps)
        self.inter, self.out, self.ln2 = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden), nn.LayerNorm(hidden, eps=eps)
        self.heads, self.p = heads, p

    def forward(self, h, additive_mask):
        b, length, hidden = h.shape
        d = hidden // self.heads

        def split(t):
            return t.view(b, length, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(h)), split(self.key(h)), split(self.value(h))
        probs = F.dropout(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + additive_mask, -1), self.p, self.training)
        context = (probs @ v).transpose(1, 2).reshape(b, length, hidden)
        h = self.ln1(h + F.dropout(self.attn_out(context), self.p, self.training))
        return self.ln2(h + F.dropout(self.out(F.gelu(self.inter(h))), self.p, self.training))


class Encoder(nn.Module):  # bert.h's default size: vocab 8000, 4 layers, hidden 256, 4 heads, FFN 1024
    def __init__(self, vocab=8000, hidden=256, layers=4, positions=512, classes=14, p=0.1):
        super().__init__()
        self.word, self.position, self.token_type = nn.Embedding(vocab, hidden), nn.Embedding(positions, hidden), nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList([BertLayer(hidden) for _ in range(layers)])
        self.pooler, self.head, self.p = nn.Linear(hidden, hidden), nn.Linear(hidden, classes), p

    def forward(self, ids):
        b, length = ids.shape
        types = torch.zeros_like(ids)
        h = self.word(ids) + self.position(torch.arange(length)).unsqueeze(0) + self.token_type(types)
        h = F.dropout(self.ln(h), self.p, self.training)
        mask = ((1.0 - torch.ones(b, length)) * -10000.0).view(b, 1, 1, length)
        for layer in self.layers:
            h = layer(h, mask)
        return self.head(torch.tanh(self.pooler(h[:, 0])))


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def blas_library():
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    return ", ".join(sorted(os.path.basename(p) + " (" + os.path.dirname(p) + ")" for p in libs)) or "none loaded"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("row", choices=["sgemm1024", "resnet_train", "resnet_infer", "transformer_train"])
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=320)
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print(f"torch_peer.py: PyTorch {torch.__version__} has no CUDA device (built with CUDA: "
              f"{torch.version.cuda or 'no'})", file=sys.stderr)
        sys.exit(3)
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    flops = 0.0
    if args.row == "sgemm1024":
        a, b = torch.randn(1024, 1024, device=dev), torch.randn(1024, 1024, device=dev)
        flops = 2.0 * 1024**3

        def step():
            torch.mm(a, b)
    elif args.row == "transformer_train":
        model = Encoder().to(dev)
        model.train()
        ids = torch.randint(0, 8000, (args.batch, args.seq), device=dev)
        y = torch.randint(0, 14, (args.batch,), device=dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(ids), y).backward()
            opt.step()
    else:
        model = ResNet256().to(dev)
        x = torch.randn(args.batch, 1, 256, 256, device=dev)
        y = torch.randint(0, 14, (args.batch,), device=dev)
        if args.row == "resnet_train":
            model.train()
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)

            def step():
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
                opt.step()
        else:
            model.eval()

            def step():
                with torch.no_grad():
                    model(x)

    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        step()
    sync()
    rss_start = rss_mib()
    ms = []
    cpu0 = time.process_time()
    for _ in range(args.iters):
        t0 = time.perf_counter()
        step()
        sync()
        ms.append((time.perf_counter() - t0) * 1e3)
    cpu_ms = (time.process_time() - cpu0) * 1e3 / max(args.iters, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    extra = {"device": torch.cuda.get_device_name(0)} if args.device == "cuda" else {}
    print(json.dumps({"row": args.row, "impl": "pytorch " + torch.__version__, "threads": torch.get_num_threads(),
                      **extra,
                      "blas": blas_library(), "flops": flops, "rss_start_mib": round(rss_start, 1),
                      "peak_rss_mib": round(peak, 1), "cpu_ms_per_iter": round(cpu_ms, 2),
                      "ms": [round(t, 3) for t in ms]}))


if __name__ == "__main__":
    main()
