// dicom.cpp — see dicom.h. DCMTK reads the file (dcmdata) and, for compressed transfer syntaxes,
// its registered decoders (dcmjpeg, dcmjpls, RLE) turn the pixel data into native little endian;
// the values are then taken from the raw PixelData element, as pydicom's pixel_array does.
#include "data/dicom.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <cmath>
#include <filesystem>
#include <mutex>

#include "data/image.h"
#include "data/transforms.h"
#include "tensor/error.h"

namespace cxr::data {

namespace {

void register_decoders() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);  // errors come back as statuses, reported by us
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

uint16_t get_u16(DcmItem* item, const DcmTagKey& tag, const std::string& path, const char* name, bool required = true,
                 uint16_t fallback = 0) {
  Uint16 v = 0;
  if (item->findAndGetUint16(tag, v).good()) return v;
  if (required) fail(path, ": DICOM attribute ", name, " is missing");
  return fallback;
}

}  // namespace

DicomPixels read_dicom(const std::string& path, const DicomReadOptions& options) {
  register_decoders();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, ": cannot read DICOM: no such file");
  if (std::filesystem::is_directory(path, ec)) fail(path, ": cannot read DICOM: is a directory");
  DcmFileFormat file;
  OFCondition st = file.loadFile(path.c_str());
  if (st.bad()) fail(path, ": not a readable DICOM file (", st.text(), ")");
  DcmDataset* ds = file.getDataset();
  DicomPixels out;
  out.transfer_syntax = DcmXfer(ds->getOriginalXfer()).getXferName();
  const uint16_t rows = get_u16(ds, DCM_Rows, path, "Rows"), cols = get_u16(ds, DCM_Columns, path, "Columns");
  const uint16_t samples = get_u16(ds, DCM_SamplesPerPixel, path, "SamplesPerPixel", false, 1);
  out.bits_allocated = get_u16(ds, DCM_BitsAllocated, path, "BitsAllocated");
  out.bits_stored = get_u16(ds, DCM_BitsStored, path, "BitsStored", false, uint16_t(out.bits_allocated));
  out.is_signed = get_u16(ds, DCM_PixelRepresentation, path, "PixelRepresentation", false, 0) == 1;
  OFString photometric;
  if (ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric).good()) out.photometric = photometric.c_str();
  if (rows == 0 || cols == 0) fail(path, ": DICOM image has invalid dimensions ", cols, "x", rows);
  if (rows > options.max_dimension || cols > options.max_dimension)
    fail(path, ": DICOM image dimensions ", cols, "x", rows, " (width x height) exceed the limit of ", options.max_dimension);
  if (samples != 1) fail(path, ": DICOM image has ", samples, " samples per pixel (", out.photometric, "); only grayscale is supported");
  if (out.bits_allocated != 8 && out.bits_allocated != 16)
    fail(path, ": DICOM BitsAllocated ", out.bits_allocated, " is not supported (8 or 16)");
  if (out.bits_stored < 1 || out.bits_stored > out.bits_allocated)
    fail(path, ": DICOM BitsStored ", out.bits_stored, " is inconsistent with BitsAllocated ", out.bits_allocated);
  if (!ds->tagExists(DCM_PixelData)) fail(path, ": DICOM file has no pixel data");

  // Decompress if needed (a no-op for native transfer syntaxes).
  if (DcmXfer(ds->getOriginalXfer()).isEncapsulated()) {
    st = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (st.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
      fail(path, ": cannot decompress DICOM pixel data in transfer syntax ", out.transfer_syntax, " (", st.text(), ")");
  }
  const size_t n = size_t(rows) * cols;
  out.pixels = empty({int64_t(rows), int64_t(cols)});
  float* p = out.pixels.data<float>();
  const uint32_t mask = out.bits_stored >= 32 ? 0xFFFFFFFFu : ((1u << out.bits_stored) - 1u);
  auto value = [&](uint32_t raw) -> float {
    uint32_t v = raw & mask;
    if (out.is_signed && (v >> (out.bits_stored - 1)) & 1u) return float(int64_t(v) - (int64_t(1) << out.bits_stored));
    return float(v);
  };
  if (out.bits_allocated == 16) {
    const Uint16* data = nullptr;
    unsigned long count = 0;
    st = ds->findAndGetUint16Array(DCM_PixelData, data, &count);
    if (st.bad() || data == nullptr) fail(path, ": cannot read DICOM pixel data (", st.text(), ")");
    if (count < n) fail(path, ": DICOM pixel data has ", count, " values for a ", cols, "x", rows, " image (truncated?)");
    for (size_t i = 0; i < n; ++i) p[i] = value(data[i]);
  } else {
    const Uint8* data = nullptr;
    unsigned long count = 0;
    st = ds->findAndGetUint8Array(DCM_PixelData, data, &count);
    if (st.bad() || data == nullptr) fail(path, ": cannot read DICOM pixel data (", st.text(), ")");
    if (count < n) fail(path, ": DICOM pixel data has ", count, " bytes for a ", cols, "x", rows, " image (truncated?)");
    for (size_t i = 0; i < n; ++i) p[i] = value(data[i]);
  }
  if (options.invert_monochrome1 && out.photometric == "MONOCHROME1") {
    float top = -1e30f;
    for (size_t i = 0; i < n; ++i) top = std::max(top, p[i]);
    for (size_t i = 0; i < n; ++i) p[i] = top - p[i];
  }
  return out;
}

Tensor dicom_to_png_values(const DicomPixels& dicom, int64_t size) {
  CXR_CHECK(size > 0, "dicom_to_png_values: size must be positive, got ", size);
  // pixel_array.astype(int32) -> PIL "I" -> Resize(size): the int32 bilinear of PIL.
  Tensor r = resize_shorter_edge(dicom.pixels, size, PilMode::I).contiguous();
  float* v = r.data<float>();
  const int64_t n = r.numel();
  double top = -1e300;
  for (int64_t i = 0; i < n; ++i) top = std::max(top, double(v[i]));
  CXR_CHECK(top > 0, "dicom_to_png_values: the image's maximum is ", top, " (65535 * img / max needs max > 0)");
  // image = 65535 * img / np.amax(img) (float64); image.astype(np.uint16) truncates toward zero.
  // Negative values (signed images) would wrap in NumPy; they are clamped to 0 here.
  for (int64_t i = 0; i < n; ++i) {
    const double s = 65535.0 * double(v[i]) / top;
    v[i] = s <= 0 ? 0.0f : float(std::trunc(s));
  }
  return r;
}

void convert_dicom(const std::string& dicom_path, const std::string& png_path, int64_t size, const DicomReadOptions& options) {
  DicomPixels d = read_dicom(dicom_path, options);
  Tensor values;
  try {
    values = dicom_to_png_values(d, size);
  } catch (const Error& e) {
    fail(dicom_path, ": ", e.what());
  }
  write_png(png_path, values, 16);
}

}  // namespace cxr::data
