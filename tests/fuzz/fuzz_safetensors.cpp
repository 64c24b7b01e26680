// fuzz_safetensors.cpp — fuzz harness: any bytes through parse_safetensors (the reader of every
// checkpoint), then nn::load_state_dict into a small module (Linear + BatchNorm1d: float
// parameters and an int64 buffer), strictly and non-strictly with a prefix. On success the
// module's state has the loaded values' shapes.
#include "fuzz_common.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "tensor/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  const std::string bytes = fuzz::bytes_of(data, size);
  SafetensorsFile file;
  if (!fuzz::expect_errors([&] { file = parse_safetensors(bytes, "fuzz.safetensors"); })) return 0;
  nn::Sequential model;
  model.push_back(std::make_shared<nn::Linear>(3, 2));
  model.push_back(std::make_shared<nn::BatchNorm1d>(2));
  fuzz::expect_errors([&] { nn::load_state_dict(model, file.tensors); });
  fuzz::expect_errors([&] {
    nn::LoadReport r = nn::load_state_dict(model, file.tensors, {.strict = false, .prefix = "model."});
    for (const std::string& name : r.loaded) fuzz::require(model.state_dict().count(name) == 1, "loaded key exists");
  });
  return 0;
}
