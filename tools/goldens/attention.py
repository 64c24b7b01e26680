"""attention.py — PyTorch fixtures for ops/attention.cpp (see tests/test_attention.cpp).

scaled_dot_product_attention as the encoder computes it, written out as
softmax(scale q k^T + mask) v (torch 1.13 has no fused op): q, k, v (B, H, S, D); the key mask is
built inside each case from an int64 (B, S) keep tensor, (1 - keep) * -10000, so no gradient is
stored for it. One case reads the encoder's (B, S, H, D) projections through a permute.
"""
import math

import torch


def attention(q, k, v, keep, scale):
    mask = (1.0 - keep.to(q.dtype))[:, None, None, :] * -10000.0
    return torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale + mask, dim=-1), v)


def build(g):
    B, H, S, D = 2, 3, 7, 5
    keep = torch.ones(B, S, dtype=torch.int64)
    keep[1, 4:] = 0
    g.case("attention.masked", lambda q, k, v, m: attention(q, k, v, m, 1 / math.sqrt(D)),
           g.randn(B, H, S, D), g.randn(B, H, S, D), g.randn(B, H, S, D), keep)
    g.case("attention.unmasked", lambda q, k, v, m: attention(q, k, v, m, 0.3),
           g.randn(1, 2, 4, 8), g.randn(1, 2, 4, 8), g.randn(1, 2, 4, 8), torch.ones(1, 4, dtype=torch.int64))
    g.case("attention.bshd", lambda q, k, v, m: attention(*(t.permute(0, 2, 1, 3) for t in (q, k, v)), m, 0.5),
           g.randn(B, S, H, D), g.randn(B, S, H, D), g.randn(B, S, H, D), keep)
