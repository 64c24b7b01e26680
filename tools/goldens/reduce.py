"""reduce.py — PyTorch fixtures for ops/reduce.cpp (see tests/test_reduce.cpp).

max/min are torch.amax/amin (gradient split evenly among ties); sum_to has no torch name and is
written as the sums it stands for.
"""
import torch


def ties(g):
    # Small integers: many ties inside each reduction window, on purpose.
    return torch.round(g.randn(3, 4, 5) * 1.5)


def build(g):
    # sum / mean / sum_to
    g.case("sum.all", lambda x: x.sum(), g.randn(3, 4))
    g.case("sum.dims_keepdim", lambda x: x.sum((0, 2), keepdim=True), g.randn(2, 3, 4))
    g.case("sum.negdim", lambda x: x.sum(-1), g.randn(2, 3, 4))
    g.case("sum.transposed", lambda x: x.t().sum(0), g.randn(4, 3))
    g.case("sum.int64", lambda x: x.sum(1), g.randint(-50, 50, 3, 4))
    g.case("mean.all", lambda x: x.mean(), g.randn(3, 4))
    g.case("mean.dims", lambda x: x.mean((0, -1)), g.randn(2, 3, 4))
    g.case("mean.keepdim_sliced", lambda x: x[:, ::2].mean(1, keepdim=True), g.randn(3, 6))
    g.case("sum_to.broadcast", lambda x: x.sum(0).sum(-1, keepdim=True), g.randn(2, 3, 4))  # -> [3, 1]
    # max / min over dims (torch.amax / amin)
    g.case("max.dim", lambda x: torch.amax(x, 1), g.randn(3, 4))
    g.case("max.all", lambda x: torch.amax(x), g.randn(3, 4))
    g.case("max.dims_keepdim", lambda x: torch.amax(x, (0, 2), keepdim=True), g.randn(2, 3, 4))
    g.case("max.negdim_transposed", lambda x: torch.amax(x.transpose(0, 1), -1), g.randn(4, 3, 5))
    g.case("min.dim", lambda x: torch.amin(x, 0), g.randn(3, 4))
    g.case("min.dims", lambda x: torch.amin(x, (-1, 0)), g.randn(2, 3, 4))
    g.case("min.sliced_keepdim", lambda x: torch.amin(x[::2], 1, keepdim=True), g.randn(6, 5))
    g.case("max.ties", lambda x: torch.amax(x, (1, 2)), ties(g))
    g.case("max.ties_dim", lambda x: torch.amax(x, 1), torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0],
                                                                     [-1.0, 5.0, 0.0, 5.0]]))
    g.case("min.ties", lambda x: torch.amin(x, -1, keepdim=True), ties(g))
    g.case("max.nan", lambda x: torch.amax(x, 1), torch.tensor([[1.0, float("nan"), 3.0], [2.0, 5.0, -1.0]]))
    g.case("max.int64", lambda x: torch.amax(x, 0), g.randint(-50, 50, 3, 4))
    g.case("min.int64", lambda x: torch.amin(x, (0, 1)), g.randint(-50, 50, 3, 4))
    # argmax / argmin (forward only: int64 output)
    g.case("argmax.dim", lambda x: torch.argmax(x, 1), g.randn(4, 5))
    g.case("argmax.keepdim_negdim", lambda x: torch.argmax(x, -2, keepdim=True), g.randn(2, 4, 3))
    g.case("argmax.transposed", lambda x: torch.argmax(x.t(), 0), g.randn(4, 5))
    g.case("argmin.dim", lambda x: torch.argmin(x, 0), g.randn(4, 5))
    g.case("argmin.keepdim", lambda x: torch.argmin(x, 2, keepdim=True), g.randn(2, 3, 4))
    g.case("argmax.ties", lambda x: torch.argmax(x, 2), ties(g))
    g.case("argmin.ties", lambda x: torch.argmin(x, 1), ties(g))
    nan_rows = torch.tensor([[1.0, float("nan"), 3.0, float("nan")], [2.0, 5.0, 5.0, 1.0], [float("nan"), 0.0, 9.0, -9.0]])
    g.case("argmax.nan", lambda x: torch.argmax(x.detach(), 1), nan_rows)
    g.case("argmin.nan", lambda x: torch.argmin(x.detach(), 1), nan_rows)
    g.case("argmax.int64", lambda x: torch.argmax(x, 1), g.randint(-3, 3, 4, 6))
    g.case("argmin.int64", lambda x: torch.argmin(x, 0), g.randint(-3, 3, 4, 6))
    # logsumexp
    g.case("logsumexp.dim", lambda x: torch.logsumexp(x, 1), g.randn(3, 5))
    g.case("logsumexp.dims_keepdim", lambda x: torch.logsumexp(x, (0, 2), keepdim=True), g.randn(2, 3, 4))
    g.case("logsumexp.negdim_transposed", lambda x: torch.logsumexp(x.t(), -1), g.randn(4, 3))
    g.case("logsumexp.large", lambda x: torch.logsumexp(x, 1), g.randn(3, 5) * 1000)
    # var
    g.case("var.dim", lambda x: torch.var(x, 1), g.randn(3, 5))
    g.case("var.all", lambda x: torch.var(x), g.randn(3, 5))
    g.case("var.correction0_keepdim", lambda x: torch.var(x, (0, 2), correction=0, keepdim=True), g.randn(2, 3, 4))
    g.case("var.correction2_negdim", lambda x: torch.var(x, -1, correction=2), g.randn(3, 6))
    g.case("var.transposed", lambda x: torch.var(x.t(), 0), g.randn(4, 3))
    g.case("var.offset", lambda x: torch.var(x + 1000, 1), g.randn(3, 8))  # |mean| >> std
    # softmax / log_softmax
    g.case("softmax.last", lambda x: torch.softmax(x, -1), g.randn(3, 5))
    g.case("softmax.dim1_3d", lambda x: torch.softmax(x, 1), g.randn(2, 4, 3))
    g.case("softmax.transposed", lambda x: torch.softmax(x.t(), 1), g.randn(5, 3))
    g.case("softmax.large", lambda x: torch.softmax(x, 1), g.randn(3, 5) * 1000)
    g.case("log_softmax.last", lambda x: torch.log_softmax(x, -1), g.randn(3, 5))
    g.case("log_softmax.dim0_3d", lambda x: torch.log_softmax(x, 0), g.randn(4, 2, 3))
    g.case("log_softmax.sliced", lambda x: torch.log_softmax(x[:, 1::2], 1), g.randn(3, 8))
    g.case("log_softmax.large", lambda x: torch.log_softmax(x, 1), g.randn(3, 5) * 1000)
