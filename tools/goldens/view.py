"""view.py — PyTorch fixtures for the views and copies (ops/view.cpp, copy.cpp).
Each case multiplies by a fixed ramp after the view so that gradients are not all ones."""
import torch


def ramp(t):
    return t * torch.arange(1, t.numel() + 1, dtype=t.dtype).reshape(t.shape) / t.numel()


def build(g):
    g.case("reshape", lambda x: ramp(x.reshape(4, -1)), g.randn(2, 3, 4))
    g.case("reshape.noncontiguous", lambda x: ramp(x.t().reshape(-1)), g.randn(3, 5))
    g.case("view.split_dim", lambda x: ramp(x.view(2, 3, 2, 2)), g.randn(6, 4))
    g.case("permute", lambda x: ramp(x.permute(2, 0, 1)), g.randn(2, 3, 4))
    g.case("transpose", lambda x: ramp(x.transpose(0, 2)), g.randn(2, 3, 4))
    g.case("narrow", lambda x: ramp(x.narrow(1, 1, 2)), g.randn(2, 4, 3))
    g.case("slice.step", lambda x: ramp(x[:, 1:5:2]), g.randn(3, 6))
    g.case("select.negative", lambda x: ramp(x.select(1, -1)), g.randn(2, 3, 4))
    g.case("expand", lambda x: ramp(x.expand(2, 3, 4)), g.randn(3, 1))
    g.case("squeeze", lambda x: ramp(x.squeeze()), g.randn(2, 1, 3, 1))
    g.case("squeeze.dim", lambda x: ramp(x.squeeze(1)), g.randn(2, 1, 3, 1))
    g.case("unsqueeze", lambda x: ramp(x.unsqueeze(-1)), g.randn(2, 3))
    g.case("flatten", lambda x: ramp(x.flatten(1, 2)), g.randn(2, 3, 4, 2))
    g.case("contiguous", lambda x: ramp(x.t().contiguous()), g.randn(3, 4))
    g.case("clone", lambda x: ramp(x.clone()), g.randn(3, 4))
    g.case("to_float64", lambda x: ramp(x.to(torch.float64)), g.randn(3, 4))
