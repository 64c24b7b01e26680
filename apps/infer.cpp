// infer.cpp — `cxr infer`: run a ResNet checkpoint on image files and print one JSON object per
// image and line:
//   {"image": PATH, "logits": [C], "probabilities": [C] (softmax of the logits)[, "embedding": [768]]}
// Each image: load (data/image.h) -> center crop to the architecture's input size -> x / max(1e-3,
// max(x)) -> (1, 1, S, S) -> eval-mode forward without autograd. Numbers are printed with 9
// significant digits (float32 round-trips); non-finite values as null (JSON has no NaN).
// Exit code: 0 all images done; 1 some image failed (named on stderr; the others still print);
// 2 bad checkpoint or arguments (nothing printed).
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/command.h"
#include "autograd/node.h"
#include "data/image.h"
#include "nn/checkpoint.h"
#include "nn/models/resnet.h"
#include "ops/ops.h"

namespace cxr::apps {
namespace {

struct InferOptions {
  std::string arch = "resnet256_6_2_1";
  std::string weights;
  int64_t output_channels = 4;
  bool embedding = false;
  std::string device = "cpu";
  std::vector<std::string> images;
};

void append_numbers(std::string& out, const Tensor& values) {
  out += '[';
  char buf[32];
  const std::vector<double> v = values.to_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    if (std::isfinite(v[i])) {
      std::snprintf(buf, sizeof buf, "%.9g", v[i]);
      out += buf;
    } else {
      out += "null";
    }
  }
  out += ']';
}

// The model input for one image: (1, 1, S, S) float32. Throws cxr::Error naming the file.
Tensor prepare_image(const std::string& path, int64_t size) {
  data::Image image = data::load_image(path);
  const int64_t h = image.pixels.size(0), w = image.pixels.size(1);
  if (h < size || w < size)
    fail(path, ": image is ", w, "x", h, " (width x height), smaller than the ", size, "x", size,
         " input of the architecture (it would have to be padded)");
  Tensor x = data::normalize_max(data::center_crop(image.pixels, size, size));
  return x.reshape({1, 1, size, size});
}

int run_infer(const InferOptions& opt) {
  std::unique_ptr<nn::ResNet> model;
  const Device device = cuda::select_device(opt.device, "infer");
  try {
    model = nn::make_resnet(opt.arch, opt.output_channels);
    nn::load_checkpoint(*model, opt.weights);
    model->to(device);
  } catch (const Error& e) {
    std::fprintf(stderr, "cxr infer: error: cannot load %s checkpoint: %s\n", opt.arch.c_str(), e.what());
    return kExitFatal;
  }
  model->eval();
  NoGradGuard no_grad;
  const int64_t size = model->config.input_size;
  int failures = 0;
  for (const std::string& path : opt.images) {
    std::string line;
    try {
      nn::ResNetOutput out = model->forward(prepare_image(path, size).to(device));
      Tensor logits = out.logits.select(0, 0).to(Device::CPU);
      line = "{\"image\":" + nlohmann::json(path).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line += ",\"logits\":";
      append_numbers(line, logits);
      line += ",\"probabilities\":";
      append_numbers(line, softmax(logits, 0));
      if (opt.embedding) {
        line += ",\"embedding\":";
        append_numbers(line, out.embedding.select(0, 0).to(Device::CPU));
      }
      line += "}\n";
    } catch (const Error& e) {
      ++failures;
      std::fflush(stdout);
      std::fprintf(stderr, "cxr infer: error: %s\n", e.what());
      continue;
    }
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
  }
  if (failures)
    std::fprintf(stderr, "cxr infer: %d of %zu images failed\n", failures, opt.images.size());
  return failures ? kExitSomeInputsFailed : kExitOk;
}

CommandRun setup_infer(CLI::App& sub) {
  auto opt = std::make_shared<InferOptions>();
  sub.add_option("--arch", opt->arch, "ResNet architecture")
      ->check(CLI::IsMember(nn::resnet_architectures()))
      ->capture_default_str();
  sub.add_option("--weights", opt->weights, "checkpoint (.safetensors) with the architecture's parameter names; "
                                            "loaded strictly (see docs/CHECKPOINTS.md)")
      ->required();
  sub.add_option("--output-channels", opt->output_channels, "number of classes of the final layer fc1")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub.add_flag("--embedding", opt->embedding, "also print the 768-d embedding z (the input of fc1)");
  add_device_option(sub, opt->device);
  sub.add_option("images", opt->images, "image files (PNG 8/16-bit or JPEG), at least the input size on each side")
      ->required();
  sub.footer(
      "Each image is center-cropped to the architecture's input size, scaled by 1/max(1e-3, max) and run in\n"
      "eval mode. Output: one JSON object per image and line: {\"image\", \"logits\", \"probabilities\"[, \"embedding\"]}.\n"
      "Exit code: 0 ok; 1 some image failed (named on stderr, the others still printed); 2 bad checkpoint/arguments.");
  return [opt] { return run_infer(*opt); };
}

const CommandRegistration registration("infer", "run a ResNet checkpoint on images; one JSON line per image",
                                       setup_infer);

}  // namespace
}  // namespace cxr::apps
