"""norm.py — PyTorch fixtures for ops/norm.cpp (see tests/test_norm.cpp).

batch_norm cases with running statistics use case_inplace: the running_mean/running_var after the
update are stored as <case>.in<i>.after. Dropout cannot share PyTorch's random stream, so its
training case rebuilds cxrlab's mask here from a Python Philox-4x32-10 (tensor/random.cpp) and
lets PyTorch compute x * mask / (1 - p) and its gradient.
"""
import torch
import torch.nn.functional as F


def _bn(training, momentum=0.1, eps=1e-5):
    return lambda x, w, b, rm, rv: F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)


def _philox_uniform(seed, counter):
    """Generator(seed).uniform(counter) of tensor/random.cpp: 53 bits of the first two words."""
    m32 = 0xFFFFFFFF
    c = [counter & m32, (counter >> 32) & m32, 0, 0]
    k0, k1 = seed & m32, (seed >> 32) & m32
    for _ in range(10):
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & m32, p1 & m32, ((p0 >> 32) ^ c[3] ^ k1) & m32, p0 & m32]
        k0 = (k0 + 0x9E3779B9) & m32
        k1 = (k1 + 0xBB67AE85) & m32
    return (((c[0] << 32) | c[1]) >> 11) * (1.0 / 9007199254740992.0)


def _dropout_mask(shape, p, seed, first=0):
    n = 1
    for s in shape:
        n *= s
    keep = [_philox_uniform(seed, first + i) >= p for i in range(n)]
    return torch.tensor(keep, dtype=torch.float32).reshape(shape)


def build(g):
    C = 3
    def stats():
        return g.randn(C) * 0.5, g.rand(C, low=0.5, high=2.0)

    # batch_norm, training: 2-D, 3-D and 4-D, with running statistics updated in place.
    rm, rv = stats()
    g.case_inplace("batch_norm.train.2d", _bn(True), g.randn(6, C) * 2 + 1, g.randn(C), g.randn(C), rm, rv,
                   mutated=(3, 4))
    rm, rv = stats()
    g.case_inplace("batch_norm.train.3d", _bn(True, momentum=0.3), g.randn(4, C, 5), g.randn(C), g.randn(C), rm, rv,
                   mutated=(3, 4))
    rm, rv = stats()
    g.case_inplace("batch_norm.train.4d", _bn(True), g.randn(2, C, 4, 5) * 3 - 2, g.randn(C), g.randn(C), rm, rv,
                   mutated=(3, 4))
    # Non-contiguous input: a (N, H, W, C) tensor permuted to (N, C, H, W).
    rm, rv = stats()
    g.case_inplace("batch_norm.train.permuted",
                   lambda x, w, b, rm, rv: F.batch_norm(x.permute(0, 3, 1, 2), rm, rv, w, b, training=True),
                   g.randn(2, 4, 3, C), g.randn(C), g.randn(C), rm, rv, mutated=(3, 4))
    # Without affine parameters; without running statistics.
    rm, rv = stats()
    g.case_inplace("batch_norm.train.noaffine.4d",
                   lambda x, rm, rv: F.batch_norm(x, rm, rv, training=True), g.randn(2, C, 3, 3), rm, rv,
                   mutated=(1, 2))
    g.case("batch_norm.train.nostats", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           g.randn(5, C, 2), g.randn(C), g.randn(C))
    # eval: the running statistics normalize (and are not changed).
    rm, rv = stats()
    g.case_inplace("batch_norm.eval.2d", _bn(False), g.randn(6, C), g.randn(C), g.randn(C), rm, rv, mutated=(3, 4))
    rm, rv = stats()
    g.case_inplace("batch_norm.eval.4d", _bn(False), g.randn(2, C, 3, 4), g.randn(C), g.randn(C), rm, rv,
                   mutated=(3, 4))
    rm, rv = stats()
    g.case_inplace("batch_norm.eval.noaffine.4d", lambda x, rm, rv: F.batch_norm(x, rm, rv, training=False),
                   g.randn(2, C, 3, 2), rm, rv, mutated=(1, 2))

    # layer_norm over the last one or two dims; with and without affine; a transposed input.
    g.case("layer_norm.1d", lambda x, w, b: F.layer_norm(x, (6,), w, b), g.randn(4, 6) * 2 + 3, g.randn(6), g.randn(6))
    g.case("layer_norm.2d", lambda x, w, b: F.layer_norm(x, (4, 5), w, b), g.randn(2, 3, 4, 5), g.randn(4, 5),
           g.randn(4, 5))
    g.case("layer_norm.noaffine", lambda x: F.layer_norm(x, (5,)), g.randn(3, 2, 5))
    g.case("layer_norm.weight_only", lambda x, w: F.layer_norm(x, (5,), w, None), g.randn(3, 5), g.randn(5))
    g.case("layer_norm.transposed", lambda x, w, b: F.layer_norm(x.t(), (4,), w, b, eps=1e-3), g.randn(4, 6),
           g.randn(4), g.randn(4))
    g.case("layer_norm.whole", lambda x, w, b: F.layer_norm(x, (3, 4), w, b), g.randn(3, 4), g.randn(3, 4),
           g.randn(3, 4))

    # dropout: training (cxrlab's Philox mask, seed 2024, counters 0..n-1), eval, p = 1.
    mask = _dropout_mask((4, 5), 0.3, 2024)
    g.case("dropout.train", lambda x: x * mask * (1.0 / (1.0 - 0.3)), g.randn(4, 5))
    mask_t = _dropout_mask((6, 3), 0.5, 7)  # x.t() of a (3, 6) input, masked in the view's row-major order
    g.case("dropout.train.transposed", lambda x: x.t() * mask_t * 2.0, g.randn(3, 6))
    g.case("dropout.eval", lambda x: F.dropout(x, 0.5, training=False), g.randn(3, 4))
    g.case("dropout.p1", lambda x: F.dropout(x, 1.0, training=True), g.randn(3, 4))
