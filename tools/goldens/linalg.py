"""linalg.py — PyTorch fixtures for ops/linalg.cpp (see tests/test_linalg.cpp).

Every torch.matmul shape rule: 1-D·1-D, 1-D promotion on either side, 2-D, batched, broadcast
batch dims, the folded (N-D)·(2-D) case, and transposed (non-contiguous) operands, which the C++
test builds with the same views from the stored contiguous inputs.
"""
import torch


def build(g):
    mm = torch.matmul
    g.case("matmul.dot", mm, g.randn(7), g.randn(7))
    g.case("matmul.vec_mat", mm, g.randn(4), g.randn(4, 3))
    g.case("matmul.mat_vec", mm, g.randn(3, 4), g.randn(4))
    g.case("matmul.mm", mm, g.randn(3, 4), g.randn(4, 5))
    g.case("matmul.mm_transposed", lambda a, b: mm(a.t(), b.t()), g.randn(4, 3), g.randn(5, 4))
    g.case("matmul.bmm", mm, g.randn(2, 3, 4), g.randn(2, 4, 5))
    g.case("matmul.broadcast", mm, g.randn(2, 1, 3, 4), g.randn(5, 4, 2))
    g.case("matmul.broadcast_ones", mm, g.randn(1, 3, 2, 4), g.randn(2, 1, 4, 3))
    g.case("matmul.batched_mat", mm, g.randn(2, 3, 4, 5), g.randn(5, 3))
    g.case("matmul.batched_mat_transposed", lambda a, b: mm(a.transpose(-1, -2), b), g.randn(2, 5, 4), g.randn(5, 3))
    g.case("matmul.mat_batched", mm, g.randn(3, 4), g.randn(2, 4, 5))
    g.case("matmul.vec_batched", mm, g.randn(4), g.randn(2, 4, 3))
    g.case("matmul.batched_vec", mm, g.randn(2, 3, 4), g.randn(4))
    g.case("matmul.batch_transposed",
           lambda a, b: mm(a.transpose(-1, -2), b.permute(1, 2, 0)), g.randn(2, 1, 4, 3), g.randn(2, 5, 4))
    g.case("matmul.large_k", mm, g.randn(4, 96), g.randn(96, 3))
    g.case("matmul.f64", mm, g.randn(2, 3, 4).double(), g.randn(4, 2).double())
