"""loss.py — PyTorch fixtures for ops/loss.cpp (see tests/test_loss.cpp)."""
import torch
import torch.nn.functional as F


def build(g):
    # cross_entropy: (N, C) and (N, C, H, W) logits, every reduction, ignore_index, large logits,
    # non-contiguous logits, a single (C) sample.
    g.case("ce.mean", lambda x, t: F.cross_entropy(x, t), g.randn(6, 5), g.randint(0, 5, 6))
    g.case("ce.sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), g.randn(6, 5), g.randint(0, 5, 6))
    g.case("ce.none", lambda x, t: F.cross_entropy(x, t, reduction="none"), g.randn(6, 5), g.randint(0, 5, 6))
    g.case("ce.spatial_mean", lambda x, t: F.cross_entropy(x, t), g.randn(2, 4, 3, 3), g.randint(0, 4, 2, 3, 3))
    g.case("ce.spatial_none", lambda x, t: F.cross_entropy(x, t, reduction="none"), g.randn(2, 3, 4),
           g.randint(0, 3, 2, 4))
    t_ignored = torch.tensor([1, -100, 4, 0, -100, 2])
    g.case("ce.ignore_mean", lambda x, t: F.cross_entropy(x, t), g.randn(6, 5), t_ignored)
    g.case("ce.ignore_sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), g.randn(6, 5), t_ignored)
    g.case("ce.ignore_none", lambda x, t: F.cross_entropy(x, t, reduction="none"), g.randn(6, 5), t_ignored)
    g.case("ce.ignore_custom", lambda x, t: F.cross_entropy(x, t, ignore_index=2), g.randn(6, 5),
           torch.tensor([2, 0, 2, 4, 1, 3]))
    g.case("ce.all_ignored", lambda x, t: F.cross_entropy(x, t), g.randn(3, 4), torch.tensor([-100, -100, -100]))
    g.case("ce.large", lambda x, t: F.cross_entropy(x, t), g.randn(4, 6) * 1000, g.randint(0, 6, 4))
    g.case("ce.transposed", lambda x, t: F.cross_entropy(x.t(), t), g.randn(5, 7), g.randint(0, 5, 7))
    g.case("ce.single", lambda x, t: F.cross_entropy(x, t), g.randn(5), torch.tensor(3))
    # binary_cross_entropy_with_logits: gradients w.r.t. logits and target; pos_weight (not
    # differentiable in PyTorch, hence the detach) broadcast over the last dim.
    bce = F.binary_cross_entropy_with_logits
    g.case("bce.mean", lambda x, t: bce(x, t), g.randn(4, 5) * 3, g.rand(4, 5))
    g.case("bce.sum", lambda x, t: bce(x, t, reduction="sum"), g.randn(4, 5) * 3, g.rand(4, 5))
    g.case("bce.none", lambda x, t: bce(x, t, reduction="none"), g.randn(4, 5) * 3, (g.rand(4, 5) > 0.5).float())
    g.case("bce.pos_weight", lambda x, t, pw: bce(x, t, pos_weight=pw.detach()), g.randn(4, 5) * 3, g.rand(4, 5),
           g.rand(5, low=0.5, high=3.0))
    g.case("bce.pos_weight_none", lambda x, t, pw: bce(x, t, pos_weight=pw.detach(), reduction="none"),
           g.randn(2, 3, 4) * 3, g.rand(2, 3, 4), g.rand(4, low=0.5, high=3.0))
    g.case("bce.large", lambda x, t: bce(x, t), torch.tensor([[-1000.0, -60.0, 0.0, 60.0, 1000.0]]),
           torch.tensor([[0.0, 1.0, 0.5, 0.0, 1.0]]))
    g.case("bce.transposed", lambda x, t: bce(x.t(), t), g.randn(5, 3), g.rand(3, 5))
    # mse_loss
    g.case("mse.mean", lambda x, t: F.mse_loss(x, t), g.randn(4, 5), g.randn(4, 5))
    g.case("mse.sum", lambda x, t: F.mse_loss(x, t, reduction="sum"), g.randn(4, 5), g.randn(4, 5))
    g.case("mse.none", lambda x, t: F.mse_loss(x, t, reduction="none"), g.randn(2, 3, 4), g.randn(2, 3, 4))
    g.case("mse.transposed", lambda x, t: F.mse_loss(x.t(), t), g.randn(5, 3), g.randn(3, 5))
