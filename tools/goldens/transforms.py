"""transforms.py — goldens for data/transforms: PIL's bilinear resize (with its antialiasing support
when downscaling), torchvision's RandomAffine geometry (nearest, fill 0, on a PIL I;16 image as the
reference code), and the joint model's translate-and-crop (METHODS.md §7), for fixed parameters.

Needs Debian's python3-pil and python3-torchvision. Each case stores
  <case>.in0   the input image (H, W) float32 (integer values for the integer PIL modes)
  <case>.out   the expected output (H', W') float32
  <case>.args  float64 parameters, documented per family below
"""
import numpy as np
import torch
from PIL import Image
import torchvision
import torchvision.transforms.functional as TF

MODES = {"L": 0, "I": 1, "F": 2}  # PilMode in data/transforms.h


def _image(g, h, w, high):
    """A smooth ramp plus blobs plus noise, so that resampling errors show up everywhere."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 0.45 * (x / max(w - 1, 1)) + 0.25 * (y / max(h - 1, 1))
    base += 0.3 * np.exp(-(((x - 0.3 * w) / (0.15 * w)) ** 2 + ((y - 0.6 * h) / (0.2 * h)) ** 2))
    noise = g.rand(h, w).double().numpy()
    img = np.clip(0.85 * base + 0.15 * noise, 0, 1) * high
    return np.round(img)


def _store(g, name, inp, out, args):
    g.tensors[f"{name}.in0"] = torch.from_numpy(np.ascontiguousarray(inp, dtype=np.float32))
    g.tensors[f"{name}.out"] = torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))
    g.tensors[f"{name}.args"] = torch.tensor(args, dtype=torch.float64)


def _pil(img, mode):
    if mode == "L":
        return Image.fromarray(img.astype(np.uint8), mode="L")
    if mode == "I":
        return Image.fromarray(img.astype(np.int32), mode="I")
    return Image.fromarray(img.astype(np.float32), mode="F")


def resize_cases(g):
    """resize.<name>: args = [out_h, out_w, mode]; PIL Image.resize((out_w, out_h), BILINEAR).
    shorter.<name>: args = [size, mode]; torchvision Resize(size) (shorter edge) on a PIL image."""
    cases = [  # (name, h, w, out_h, out_w)
        ("down2", 40, 30, 20, 15),
        ("down_odd", 53, 37, 23, 16),
        ("down10", 60, 80, 6, 8),
        ("down_h_only", 31, 24, 12, 24),
        ("down_w_only", 19, 45, 19, 14),
        ("up", 10, 13, 29, 31),
        ("up_down", 12, 40, 30, 17),
        ("one_row", 1, 25, 1, 7),
        ("to_one", 9, 11, 1, 1),
    ]
    for mode in ("L", "I", "F"):
        high = {"L": 255, "I": 65535, "F": 1000.0}[mode]
        for name, h, w, oh, ow in cases:
            img = _image(g, h, w, high)
            if mode == "F":
                img = img + g.rand(h, w).double().numpy() - 0.5  # non-integer samples
            out = np.array(_pil(img, mode).resize((ow, oh), Image.BILINEAR))
            _store(g, f"resize.{mode}.{name}", img, out, [oh, ow, MODES[mode]])
    # torchvision's shorter-edge Resize: output size int(size * long / short), then PIL bilinear.
    for mode, (h, w, size) in [("I", (61, 50, 24)), ("I", (50, 61, 24)), ("L", (45, 45, 20)), ("F", (37, 70, 16)),
                               ("I", (77, 64, 64))]:
        high = {"L": 255, "I": 65535, "F": 1000.0}[mode]
        img = _image(g, h, w, high)
        out = np.array(TF.resize(_pil(img, mode), size, interpolation=TF.InterpolationMode.BILINEAR))
        _store(g, f"shorter.{mode}.{h}x{w}_to_{size}", img, out, [size, MODES[mode]])


def affine_cases(g):
    """affine.<name>: args = [angle, tx, ty, cx, cy]; torchvision F.affine on a PIL I;16 image
    (scale 1, shear 0, nearest, fill 0) about the centre (cx, cy) in PIL pixel coordinates.
    The reference's torchvision 0.4 used (w/2 + 0.5, h/2 + 0.5); torchvision >= 0.8 uses (w/2, h/2)."""
    cases = [  # (name, h, w, angle, tx, ty)
        ("rot0_shift", 24, 31, 0.0, 3, -2),
        ("rot7", 24, 31, 7.0, 0, 0),
        ("rot_m13_shift", 33, 28, -13.37, -2, 3),
        ("rot20_shift", 40, 40, 20.0, 4, 4),
        ("rot_m20", 27, 35, -20.0, -3, 0),
        ("rot90", 12, 12, 90.0, 0, 0),
        ("rot3p7_odd", 31, 29, 3.7, 1, -1),
    ]
    for name, h, w, angle, tx, ty in cases:
        img = _image(g, h, w, 65535)
        pil = Image.fromarray(img.astype(np.uint16), mode="I;16")
        assert pil.mode == "I;16"
        for cname, center in (("ref", [w * 0.5 + 0.5, h * 0.5 + 0.5]), ("tv", [w * 0.5, h * 0.5])):
            out = TF.affine(pil, angle=angle, translate=[tx, ty], scale=1.0, shear=[0.0, 0.0],
                            interpolation=TF.InterpolationMode.NEAREST, fill=0, center=center)
            assert out.mode == "I;16"
            _store(g, f"affine.{cname}.{name}", img, np.array(out).astype(np.float32),
                   [angle, tx, ty, center[0], center[1]])
    # The centre that torchvision >= 0.8 picks by default must be (w/2, h/2): check our reading.
    img = _image(g, 20, 23, 65535)
    pil = Image.fromarray(img.astype(np.uint16), mode="I;16")
    a = np.array(TF.affine(pil, angle=11.0, translate=[1, 2], scale=1.0, shear=[0.0, 0.0]))
    b = np.array(TF.affine(pil, angle=11.0, translate=[1, 2], scale=1.0, shear=[0.0, 0.0], center=[11.5, 10.0]))
    assert (a == b).all()


def translate_crop_reference(image, out_h, out_w, shift_h, shift_w):
    """The joint model's translate-and-crop (METHODS.md §7), written from its description: pad
    floor(max(0, out - dim) / 2) + 4 zeros on each side plus max(shift, 0) before and max(-shift, 0)
    after, then crop out rows [floor((H' - out) / 2), + out)."""
    h, w = image.shape
    ph = int(np.floor(max(0.0, float(out_h - h)) / 2)) + 4
    pw = int(np.floor(max(0.0, float(out_w - w)) / 2)) + 4
    padded = np.pad(image, ((ph + max(shift_h, 0), ph + max(-shift_h, 0)), (pw + max(shift_w, 0), pw + max(-shift_w, 0))))
    H, W = padded.shape
    if out_h > H or out_w > W:
        raise ValueError("needs padding")
    top, left = (H - out_h) // 2, (W - out_w) // 2
    return padded[top:top + out_h, left:left + out_w]


def translate_crop_cases(g):
    """translate_crop.<name>: args = [out_h, out_w, shift_h, shift_w]."""
    cases = [  # (name, h, w, out_h, out_w, shift_h, shift_w)
        ("noshift_small", 20, 17, 24, 24, 0, 0),
        ("noshift_large", 31, 40, 24, 24, 0, 0),
        ("shift_pos", 20, 17, 24, 24, 5, 3),
        ("shift_neg", 20, 17, 24, 24, -7, -1),
        ("shift_mixed_large", 31, 40, 24, 24, 6, -9),
        ("shift_odd", 21, 30, 25, 25, -3, 8),
        ("shift_outside", 10, 10, 16, 16, 15, -15),
    ]
    for name, h, w, oh, ow, sh, sw in cases:
        img = _image(g, h, w, 1.0) / 1.0 + 0.01
        _store(g, f"translate_crop.{name}", img, translate_crop_reference(img, oh, ow, sh, sw), [oh, ow, sh, sw])


def dicom_png_cases(g):
    """dcm2png.<name>: args = [size]; the reference's image_prep/dcm_to_png.py after pixel_array:
    astype(int32) -> ToPILImage (mode I) -> Resize(size) -> 65535 * img / amax(img) -> astype(uint16)."""
    for name, h, w, size, high in [("12bit_portrait", 90, 75, 32, 4095), ("16bit_landscape", 61, 97, 40, 65535),
                                   ("upscale", 20, 24, 30, 1023)]:
        img = _image(g, h, w, high).astype(np.int32)
        pil = TF.to_pil_image(img)
        assert pil.mode == "I"
        resized = np.array(TF.resize(pil, size, interpolation=TF.InterpolationMode.BILINEAR)).astype(np.float64)
        out = (65535 * resized / np.amax(resized)).astype(np.uint16)
        _store(g, f"dcm2png.{name}", img, out, [size])


def build(g):
    g.tensors["meta.versions"] = torch.tensor([float(x) for x in Image.__version__.split(".")[:2]] +
                                              [float(x) for x in torchvision.__version__.split(".")[:2]],
                                              dtype=torch.float64)
    resize_cases(g)
    affine_cases(g)
    translate_crop_cases(g)
    dicom_png_cases(g)
