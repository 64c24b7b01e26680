// image.h — image files in and out, and the two transforms every model input goes through.
//   load_image: PNG (8/16-bit; gray, gray+alpha, RGB, RGBA, palette) or JPEG -> pixels (H, W)
//   float32 holding the raw integer values (0..255 or 0..65535, 16-bit kept exactly).
//   center_crop: (..., H, W) -> (..., h, w) with torchvision CenterCrop semantics (zero padding).
//   normalize_max: x / max(1e-3, max(x)), the reference code's intensity scaling (METHODS.md §1).
// Decoding is stb_image (PNG and JPEG decoders only); files are untrusted input: every failure is
// a cxr::Error naming the file and the problem, and dimensions are checked before decoding.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace cxr::data {

struct Image {
  Tensor pixels;      // (H, W) float32, raw values
  int bit_depth = 8;  // 8 or 16: the depth of the values (1/2/4-bit PNGs are scaled to 8 bits)
  int channels = 1;   // channels decoded: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palette and tRNS expand)
};

struct ImageLoadOptions {
  // Largest width or height accepted. Checked from the file header before any pixel is decoded,
  // so a small file claiming a huge image (a decompression bomb) is refused cheaply.
  int64_t max_dimension = 16384;
};

// Color images become luminance exactly as PIL's convert("L") (Pillow's fixed-point form of
// L = R*299/1000 + G*587/1000 + B*114/1000, rounded to nearest):
//   L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
// applied to 16-bit samples too; alpha is ignored (as PIL). Throws cxr::Error on a missing,
// empty, truncated or corrupt file, an unsupported format, or dimensions above the limit.
Image load_image(const std::string& path, const ImageLoadOptions& options = {});
// The same from bytes in memory; `name` is used in error messages.
Image decode_image(const std::string& bytes, const std::string& name, const ImageLoadOptions& options = {});

// Writes a PNG (bit_depth 8 or 16) of pixels (H, W) (grayscale) or (H, W, C) with C = 1 gray,
// 2 gray+alpha, 3 RGB, 4 RGBA, of any dtype; values are rounded and must lie in
// [0, 2^bit_depth - 1]. The file is written atomically (temporary file, fsync, rename).
void write_png(const std::string& path, const Tensor& pixels, int bit_depth);
// The PNG file's bytes, as write_png would write them.
std::string encode_png(const Tensor& pixels, int bit_depth);
// The CRC-32 a PNG chunk stores after its type and data (ISO 3309), over those n bytes.
uint32_t png_crc32(const unsigned char* data, size_t n);

// Where a crop of `crop` out of `size` starts, per torchvision CenterCrop:
//   size >= crop: int(round((size - crop) / 2.0)), Python's round (half to even): 307 -> 256 gives 26
//   size <  crop: the image is zero-padded by (crop - size) // 2 before and the rest after, so the
//                 start is -((crop - size) / 2) (negative: output rows before the image are 0).
int64_t center_crop_start(int64_t size, int64_t crop);
// x (..., H, W) -> a new contiguous (..., height, width) tensor of x's dtype.
Tensor center_crop(const Tensor& x, int64_t height, int64_t width);
// x / max(1e-3, max(x)) in x's dtype (floating), as the reference: max over the whole tensor.
Tensor normalize_max(const Tensor& x);

}  // namespace cxr::data
