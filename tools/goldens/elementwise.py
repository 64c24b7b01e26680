"""elementwise.py — PyTorch fixtures for ops/elementwise.cpp (see tests/test_elementwise.cpp)."""
import torch
import torch.nn.functional as F


def build(g):
    # Binary arithmetic, with broadcasting and a non-contiguous (transposed) operand.
    g.case("add.broadcast", lambda a, b: a + b, g.randn(3, 1, 4), g.randn(5, 1))
    g.case("add.transposed", lambda a, b: a.t() + b, g.randn(4, 3), g.randn(3, 4))
    g.case("sub.broadcast", lambda a, b: a - b, g.randn(2, 3), g.randn(3))
    g.case("mul.broadcast", lambda a, b: a * b, g.randn(2, 1, 3), g.randn(4, 1))
    g.case("div.broadcast", lambda a, b: a / b, g.randn(2, 3), g.rand(3, low=0.5, high=2.0))
    g.case("pow.tensor", lambda a, b: torch.pow(a, b), g.rand(2, 3, low=0.5, high=2.0), g.randn(3))
    g.case("pow.scalar", lambda a: torch.pow(a, 3.0), g.randn(2, 3))
    g.case("maximum.broadcast", lambda a, b: torch.maximum(a, b), g.randn(3, 4), g.randn(4))
    g.case("minimum.broadcast", lambda a, b: torch.minimum(a, b), g.randn(3, 4), g.randn(3, 1))
    # Unary ops, one with a non-contiguous input.
    g.case("neg", lambda x: -x, g.randn(2, 3))
    g.case("exp", lambda x: torch.exp(x), g.randn(2, 3))
    g.case("log", lambda x: torch.log(x), g.rand(2, 3, low=0.1, high=3.0))
    g.case("sqrt", lambda x: torch.sqrt(x), g.rand(2, 3, low=0.1, high=3.0))
    g.case("rsqrt", lambda x: torch.rsqrt(x), g.rand(2, 3, low=0.1, high=3.0))
    g.case("abs", lambda x: torch.abs(x), g.randn(2, 3))
    g.case("clamp", lambda x: torch.clamp(x, -0.5, 0.7), g.randn(4, 5))
    g.case("clamp.min_only", lambda x: torch.clamp(x, min=0.1), g.randn(4, 5))
    g.case("relu.transposed", lambda x: torch.relu(x.t()), g.randn(4, 5))
    g.case("gelu", lambda x: F.gelu(x), g.randn(4, 5) * 2)
    g.case("tanh", lambda x: torch.tanh(x), g.randn(4, 5) * 2)
    g.case("sigmoid", lambda x: torch.sigmoid(x), g.randn(4, 5) * 4)
    g.case("softplus", lambda x: F.softplus(x), g.randn(4, 5) * 4)
    g.case("softplus.beta", lambda x: F.softplus(x, beta=2.0, threshold=5.0), g.randn(4, 5) * 4)
    # Comparisons (forward only), where, masked_fill.
    g.case("lt", lambda a, b: (a < b), g.randn(3, 4), g.randn(4))
    g.case("ge", lambda a, b: (a >= b), g.randn(3, 4), g.randn(3, 1))
    g.case("gt", lambda a, b: (a > b), g.randn(3, 4), g.randn(4))
    g.case("le", lambda a, b: (a <= b), g.randn(3, 4), g.randn(3, 1))
    ties = torch.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    g.case("eq.ties", lambda a, b: (a == b), ties, torch.tensor([0.0, 1.0, 0.0]))
    g.case("ne.ties", lambda a, b: (a != b), ties, torch.tensor([[2.0], [1.0]]))
    g.case("where.broadcast", lambda c, a, b: torch.where(c, a, b), g.randn(3, 4) > 0, g.randn(4), g.randn(3, 1))
    g.case("masked_fill", lambda x, m: x.masked_fill(m, -1e4), g.randn(2, 3, 4), g.randn(3, 1) > 0)
