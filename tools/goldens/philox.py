"""philox.py — cxrlab's random numbers in Python, bit for bit: Philox-4x32-10 (tensor/random.cpp
philox4x32) and cxr::Generator's uniform / normal transforms and offset bookkeeping, so a fixture
can name its weights and inputs by (seed, recipe) instead of storing them.

Not a fixture family (make_goldens.py skips it). Values are float64 numpy arrays, row-major, as
cxr::rand / cxr::randn with dtype Float64 produce them.

normal() is Box-Muller with the C library's log and cos (Python's math module calls the same libm
as the C++ code); numpy's vectorized log/cos differ from libm in the last bit on AVX-512 machines,
so they are not used.
"""
import math

import numpy as np

_MASK = np.uint64(0xFFFFFFFF)
_MUL0, _MUL1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)  # round multipliers
_WEYL0, _WEYL1 = 0x9E3779B9, 0xBB67AE85  # key schedule increments
_TWO53_INV = 1.0 / 9007199254740992.0


def philox4x32(key, counters):
    """Philox-4x32-10 of each counter (uint64 array or int) under a 64-bit key: 4 uint32 words each,
    as a (4, n) uint64 array. Counter words: (lo32(counter), hi32(counter), 0, 0); key words
    (lo32(key), hi32(key))."""
    ctr = np.atleast_1d(np.asarray(counters, dtype=np.uint64))
    c0, c1 = ctr & _MASK, ctr >> np.uint64(32)
    c2 = np.zeros_like(ctr)
    c3 = np.zeros_like(ctr)
    k0, k1 = key & 0xFFFFFFFF, (key >> 32) & 0xFFFFFFFF
    for _ in range(10):
        p0 = _MUL0 * c0  # < 2^64: exact in uint64
        p1 = _MUL1 * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & _MASK,
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & _MASK)
        k0 = (k0 + _WEYL0) & 0xFFFFFFFF
        k1 = (k1 + _WEYL1) & 0xFFFFFFFF
    return np.stack([c0, c1, c2, c3])


def _to_unit(hi, lo):
    """53 random bits -> [0, 1), as random.cpp to_unit."""
    bits = ((hi << np.uint64(32)) | lo) >> np.uint64(11)
    return bits.astype(np.float64) * _TWO53_INV  # exact: bits < 2^53, times a power of 2


class Generator:
    """cxr::Generator: element i of a draw of n elements uses counter offset + i; offset += n."""

    def __init__(self, seed):
        self.seed = seed
        self.offset = 0

    def _counters(self, shape):
        n = int(np.prod(shape, dtype=np.int64))
        first = self.offset
        self.offset += n
        return np.arange(first, first + n, dtype=np.uint64), tuple(shape)

    def rand(self, shape):
        """cxr::rand(shape, {.dtype = Float64}, &gen): U[0, 1)."""
        ctr, shape = self._counters(shape)
        w = philox4x32(self.seed, ctr)
        return _to_unit(w[0], w[1]).reshape(shape)

    def randn(self, shape):
        """cxr::randn(shape, {.dtype = Float64}, &gen): sqrt(-2 log(1 - u1)) cos(2 pi u2)."""
        ctr, shape = self._counters(shape)
        w = philox4x32(self.seed, ctr)
        u1 = 1.0 - _to_unit(w[0], w[1])  # (0, 1]
        u2 = _to_unit(w[2], w[3])
        log, cos, sqrt, two_pi = math.log, math.cos, math.sqrt, 2.0 * math.pi
        out = np.fromiter((sqrt(-2.0 * log(a)) * cos(two_pi * b) for a, b in zip(u1.tolist(), u2.tolist())),
                          dtype=np.float64, count=len(u1))
        return out.reshape(shape)


def _self_test():
    # Random123's known-answer vector (tests/test_tensor.cpp checks the same on the C++ side).
    w = philox4x32(0, 0)[:, 0]
    assert [int(x) for x in w] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8], [hex(int(x)) for x in w]


_self_test()
