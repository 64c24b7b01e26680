"""conv_transpose.py — PyTorch fixtures for conv_transpose2d (ops/conv.cpp; see
tests/test_conv_transpose.cpp).

Stride/padding/output_padding combinations, a non-square kernel with per-dimension parameters, no
bias, padding wider than the kernel (the output is cropped), a channels-last (non-contiguous)
input, float64, and the VAE decoder's upsampling stage (kernel 4, stride 2, padding 1) at enough
channels for the fast kernel's GEMM path.
"""
import torch.nn.functional as F


def build(g):
    ct = F.conv_transpose2d
    g.case("conv_transpose2d.basic", ct, g.randn(2, 3, 5, 5), g.randn(3, 4, 3, 3), g.randn(4))
    g.case("conv_transpose2d.stride2_pad1", lambda x, w, b: ct(x, w, b, stride=2, padding=1),
           g.randn(2, 3, 4, 5), g.randn(3, 2, 3, 3), g.randn(2))
    g.case("conv_transpose2d.output_padding", lambda x, w, b: ct(x, w, b, stride=2, padding=1, output_padding=1),
           g.randn(2, 2, 4, 4), g.randn(2, 3, 3, 3), g.randn(3))
    g.case("conv_transpose2d.stride3_output_padding2", lambda x, w, b: ct(x, w, b, stride=3, output_padding=2),
           g.randn(1, 2, 3, 3), g.randn(2, 2, 2, 2), g.randn(2))
    g.case("conv_transpose2d.nonsquare",
           lambda x, w, b: ct(x, w, b, stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
           g.randn(2, 2, 4, 3), g.randn(2, 3, 3, 2), g.randn(3))
    g.case("conv_transpose2d.no_bias", lambda x, w: ct(x, w, stride=2, padding=1), g.randn(2, 3, 3, 4),
           g.randn(3, 2, 4, 4))
    # padding 3 > kernel - 1 = 2: the output (H - 1) + 3 - 6 = H - 4 is a crop of the full one.
    g.case("conv_transpose2d.padding_crops", lambda x, w, b: ct(x, w, b, padding=3), g.randn(1, 2, 7, 6),
           g.randn(2, 2, 3, 3), g.randn(2))
    # Stored channels-last (N, H, W, C); the op sees the permuted, non-contiguous NCHW view.
    g.case("conv_transpose2d.channels_last", lambda x, w, b: ct(x.permute(0, 3, 1, 2), w, b, stride=2, padding=1),
           g.randn(2, 4, 4, 3), g.randn(3, 2, 4, 4), g.randn(2))
    g.case("conv_transpose2d.decoder_stage", lambda x, w, b: ct(x, w, b, stride=2, padding=1),
           g.randn(2, 32, 8, 8), g.randn(32, 16, 4, 4), g.randn(16))
    g.case("conv_transpose2d.f64", lambda x, w, b: ct(x, w, b, stride=(2, 1), padding=(1, 2), output_padding=(1, 0)),
           g.randn(1, 2, 4, 5).double(), g.randn(2, 3, 3, 4).double(), g.randn(3).double())
