"""conv.py — PyTorch fixtures for ops/conv.cpp (see tests/test_conv.cpp).

conv2d over stride/padding/dilation combinations, non-square kernels, no bias, pixels no window
reaches, a channels-last (non-contiguous) input; max/avg/adaptive pools over their options,
including max-pool ties (PyTorch routes the gradient to the first maximum) and all-negative input
with padding (padding is -inf, not 0).
"""
import torch
import torch.nn.functional as F


def build(g):
    conv = F.conv2d
    g.case("conv2d.basic", conv, g.randn(2, 3, 6, 6), g.randn(4, 3, 3, 3), g.randn(4))
    g.case("conv2d.stride2_pad1", lambda x, w, b: conv(x, w, b, stride=2, padding=1),
           g.randn(2, 3, 7, 6), g.randn(4, 3, 3, 3), g.randn(4))
    g.case("conv2d.dilation2", lambda x, w, b: conv(x, w, b, padding=2, dilation=2),
           g.randn(1, 2, 7, 7), g.randn(3, 2, 3, 3), g.randn(3))
    g.case("conv2d.nonsquare", lambda x, w, b: conv(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
           g.randn(2, 2, 7, 8), g.randn(3, 2, 2, 3), g.randn(3))
    g.case("conv2d.no_bias", lambda x, w: conv(x, w, stride=1, padding=1), g.randn(2, 3, 5, 5), g.randn(2, 3, 3, 3))
    g.case("conv2d.one_by_one", lambda x, w, b: conv(x, w, b), g.randn(2, 4, 3, 5), g.randn(3, 4, 1, 1), g.randn(3))
    # H = W = 6, k = 3, stride 2: output 2x2 reaches rows/cols 0..4 only; row/col 5 get zero gradient.
    g.case("conv2d.uncovered", lambda x, w, b: conv(x, w, b, stride=2), g.randn(1, 2, 6, 6), g.randn(2, 2, 3, 3),
           g.randn(2))
    # Stored channels-last (N, H, W, C); the op sees the permuted, non-contiguous NCHW view.
    g.case("conv2d.channels_last", lambda x, w, b: conv(x.permute(0, 3, 1, 2), w, b, padding=1),
           g.randn(2, 5, 5, 3), g.randn(2, 3, 3, 3), g.randn(2))
    g.case("conv2d.f64", lambda x, w, b: conv(x, w, b, stride=(1, 2), padding=(2, 1)),
           g.randn(1, 2, 5, 6).double(), g.randn(3, 2, 3, 2).double(), g.randn(3).double())

    g.case("max_pool2d.basic", lambda x: F.max_pool2d(x, 2), g.randn(2, 3, 6, 6))
    g.case("max_pool2d.k3s2p1", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), g.randn(2, 2, 7, 7))
    g.case("max_pool2d.nonsquare", lambda x: F.max_pool2d(x, (2, 3), stride=(1, 2), padding=(1, 1)),
           g.randn(1, 2, 5, 7))
    g.case("max_pool2d.negative_padded", lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
           -g.rand(1, 2, 4, 4, low=1.0, high=2.0))
    g.case("max_pool2d.transposed", lambda x: F.max_pool2d(x.transpose(2, 3), 2, stride=1), g.randn(1, 2, 5, 4))
    # Integer values 0..2: most windows hold tied maxima; overlapping windows (stride 1).
    ties = g.randint(0, 3, 2, 2, 5, 5).float()
    g.case("max_pool2d.ties", lambda x: F.max_pool2d(x, 3, stride=1, padding=1), ties)
    g.tensors["max_pool2d.ties.indices"] = F.max_pool2d(ties, 3, stride=1, padding=1, return_indices=True)[1]

    g.case("avg_pool2d.basic", lambda x: F.avg_pool2d(x, 2), g.randn(2, 3, 6, 6))
    g.case("avg_pool2d.pad_include", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True),
           g.randn(2, 2, 7, 6))
    g.case("avg_pool2d.pad_exclude", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
           g.randn(2, 2, 7, 6))
    g.case("avg_pool2d.nonsquare", lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1),
                                                          count_include_pad=False), g.randn(1, 2, 6, 5))
    g.case("avg_pool2d.uncovered", lambda x: F.avg_pool2d(x, 2), g.randn(1, 2, 7, 5))

    g.case("adaptive_avg_pool2d.divisible", lambda x: F.adaptive_avg_pool2d(x, 4), g.randn(2, 3, 8, 8))
    g.case("adaptive_avg_pool2d.uneven", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), g.randn(2, 3, 7, 5))
    g.case("adaptive_avg_pool2d.upsample", lambda x: F.adaptive_avg_pool2d(x, (5, 4)), g.randn(1, 2, 3, 3))
    g.case("adaptive_avg_pool2d.global", lambda x: F.adaptive_avg_pool2d(x, 1), g.randn(2, 4, 5, 3))
    g.case("adaptive_avg_pool2d.transposed", lambda x: F.adaptive_avg_pool2d(x.transpose(2, 3), (2, 3)),
           g.randn(1, 2, 7, 5))
