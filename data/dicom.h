// dicom.h — DICOM chest radiographs in (DCMTK), and the reference's conversion to 16-bit PNG
// (METHODS.md §1, resnet_chestxray image_prep/dcm_to_png.py):
//   1. pydicom's pixel_array: the stored values (no rescale slope/intercept, no VOI LUT, MONOCHROME1
//      not inverted), cast to int32
//   2. torchvision Resize(size) on the PIL "I" image: shorter edge to `size`, bilinear, PIL's
//      int32 rounding (data/transforms.h, PilMode::I)
//   3. 65535 * img / max(img), cast to uint16 (truncation), written as a 16-bit PNG
// Compressed transfer syntaxes DCMTK decodes (JPEG baseline/extended/lossless, JPEG-LS, RLE) are
// decompressed first; JPEG 2000 is not supported by DCMTK and is refused with a clear error.
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace cxr::data {

struct DicomPixels {
  Tensor pixels;  // (H, W) float32 holding the stored integer values exactly (<= 16 bits)
  int bits_allocated = 16, bits_stored = 16;
  bool is_signed = false;
  std::string photometric;  // MONOCHROME1 / MONOCHROME2
  std::string transfer_syntax;
};

struct DicomReadOptions {
  int64_t max_dimension = 16384;
  bool invert_monochrome1 = false;  // the reference did not invert MONOCHROME1 images
};

// Reads the first frame of a single-sample (grayscale) DICOM image. Values: the stored bits
// (BitsStored low bits; sign-extended when PixelRepresentation = 1). Throws cxr::Error naming the
// file on a missing, unreadable or non-image file, colour or multi-frame-only data, more than 16
// bits, or dimensions above the limit.
DicomPixels read_dicom(const std::string& path, const DicomReadOptions& options = {});

// Steps 1-3 above: the PNG values (H', W') float32 in 0..65535. Throws if the image is all <= 0.
Tensor dicom_to_png_values(const DicomPixels& dicom, int64_t size);

// read_dicom + dicom_to_png_values + write_png(16-bit).
void convert_dicom(const std::string& dicom_path, const std::string& png_path, int64_t size,
                   const DicomReadOptions& options = {});

}  // namespace cxr::data
