"""index.py — PyTorch fixtures for ops/index.cpp (see tests/test_index.cpp).

split/chunk return several views; a case checks them all at once as cat(piece_i * (i + 1)), so the
piece count, their boundaries and the gradient reaching each piece are all visible in one tensor.
"""
import torch
import torch.nn.functional as F


def _weighted(pieces, dim):
    return torch.cat([p * float(i + 1) for i, p in enumerate(pieces)], dim)


def build(g):
    # cat / stack: several dims, negative dims, a transposed (non-contiguous) operand.
    g.case("cat.dim0", lambda a, b, c: torch.cat([a, b, c], 0), g.randn(2, 3), g.randn(1, 3), g.randn(4, 3))
    g.case("cat.dim_neg1.transposed", lambda a, b: torch.cat([a.t(), b], -1), g.randn(2, 3), g.randn(3, 4))
    g.case("cat.dim1.3d", lambda a, b: torch.cat([a, b], 1), g.randn(2, 3, 4), g.randn(2, 1, 4))
    g.case("stack.dim0", lambda a, b, c: torch.stack([a, b, c]), g.randn(2, 3), g.randn(2, 3), g.randn(2, 3))
    g.case("stack.dim_neg1", lambda a, b: torch.stack([a, b], -1), g.randn(2, 3), g.randn(2, 3))
    g.case("stack.dim1.transposed", lambda a, b: torch.stack([a.t(), b], 1), g.randn(4, 3), g.randn(3, 4))

    # split / chunk.
    g.case("split.size", lambda x: _weighted(torch.split(x, 2, 1), 1), g.randn(3, 7))
    g.case("split.sizes", lambda x: _weighted(torch.split(x, [1, 0, 3, 2], 0), 0), g.randn(6, 2))
    g.case("split.size.neg_dim", lambda x: _weighted(torch.split(x, 3, -1), -1), g.randn(2, 2, 5))
    g.case("chunk.uneven", lambda x: _weighted(torch.chunk(x, 3, 0), 0), g.randn(7, 2))
    g.case("chunk.fewer", lambda x: _weighted(torch.chunk(x, 4, 1), 1), g.randn(2, 6))  # 3 pieces of 2

    # index_select: repeated indices (gradients accumulate), negative dim, transposed input.
    idx = torch.tensor([2, 0, 2, 4], dtype=torch.int64)
    g.case("index_select.dim0", lambda x, i: torch.index_select(x, 0, i), g.randn(5, 3), idx)
    g.case("index_select.dim_neg1", lambda x, i: torch.index_select(x, -1, i), g.randn(2, 3, 5), idx)
    g.case("index_select.transposed", lambda x, i: torch.index_select(x.t(), 0, i), g.randn(3, 5), idx)

    # gather: index smaller than the input in the other dims, repeated indices, negative dim.
    g.case("gather.dim1.3d", lambda x, i: torch.gather(x, 1, i), g.randn(2, 4, 3), g.randint(0, 4, 2, 5, 2))
    g.case("gather.dim0", lambda x, i: torch.gather(x, 0, i), g.randn(3, 4), g.randint(0, 3, 5, 4))
    g.case("gather.dim_neg1.transposed", lambda x, i: torch.gather(x.t(), -1, i), g.randn(5, 3), g.randint(0, 5, 3, 2))

    # embedding: 2-D indices with repeats, 1-D, and a 0-d index.
    g.case("embedding.2d", lambda w, i: F.embedding(i, w), g.randn(6, 4),
           torch.tensor([[1, 5, 1], [0, 1, 3]], dtype=torch.int64))
    g.case("embedding.1d", lambda w, i: F.embedding(i, w), g.randn(5, 3), torch.tensor([4, 4, 0, 2], dtype=torch.int64))
    g.case("embedding.scalar", lambda w, i: F.embedding(i, w), g.randn(4, 3), torch.tensor(2, dtype=torch.int64))
