// fuzz_dicom.cpp — fuzz harness: any bytes as a DICOM file through data::read_dicom (DCMTK's
// parser and decoders, then our attribute checks and pixel extraction), and, when it reads, the
// reference's PNG conversion (dicom_to_png_values) at a small size.
#include "data/dicom.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  const std::string path = fuzz::scratch_file("input.dcm", {reinterpret_cast<const char*>(data), size});
  data::DicomPixels dicom;
  if (!fuzz::expect_errors([&] { dicom = data::read_dicom(path, {.max_dimension = 2048}); })) return 0;
  fuzz::require(dicom.pixels.dim() == 2 && dicom.pixels.numel() > 0, "read_dicom: (H, W) pixels");
  fuzz::expect_errors([&] {
    Tensor png = data::dicom_to_png_values(dicom, 16);
    const float* p = png.data<float>();
    for (int64_t i = 0; i < png.numel(); ++i) fuzz::require(p[i] >= 0 && p[i] <= 65535, "dicom_to_png_values: range");
  });
  return 0;
}
