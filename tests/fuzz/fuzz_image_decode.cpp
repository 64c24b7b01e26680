// fuzz_image_decode.cpp — fuzz harness: any bytes through data::decode_image, the path of every
// image the loader reads (our PNG chunk and JPEG segment checks, then stb_image's PNG and JPEG
// decoders). Property on success: pixels (H, W) float32, values within the bit depth's range.
#include <cmath>

#include "data/image.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  const std::string bytes = fuzz::bytes_of(data, size);
  // 2048 per side keeps a decoded image within the fuzzer's memory limit; the size check itself is
  // the same code as the default 16384.
  fuzz::expect_errors([&] {
    data::Image image = data::decode_image(bytes, "fuzz.png", {.max_dimension = 2048});
    fuzz::require(image.pixels.dim() == 2 && image.pixels.dtype() == DType::Float32, "decode_image: (H, W) float32");
    fuzz::require(image.bit_depth == 8 || image.bit_depth == 16, "decode_image: bit depth 8 or 16");
    const float top = image.bit_depth == 16 ? 65535.f : 255.f;
    const float* p = image.pixels.data<float>();
    for (int64_t i = 0; i < image.pixels.numel(); ++i)
      fuzz::require(p[i] >= 0 && p[i] <= top && p[i] == std::floor(p[i]), "decode_image: integer values in range");
  });
  return 0;
}
