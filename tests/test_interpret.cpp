// test_interpret.cpp — interpretation (interpret/*.h, apps/explain.cpp):
//   Grad-CAM against PyTorch hooks (tests/goldens/gradcam.safetensors from tools/goldens/gradcam.py:
//   resnet128_6_2_1 with the Philox recipe of tools/goldens/resnet.py, replayed here by
//   fill_parameters), bilinear upsampling against F.interpolate, localization on a constructed
//   network, errors; the overlay and its colormap; word spans of the basic tokenizer; [CLS]
//   attention merged into words, checked by hand against the attentions the model itself returns
//   (those are checked against PyTorch in test_bert.cpp); HTML escaping of hostile text; loading run
//   directories; and `cxr explain` run as a program (CXR_CLI_PATH) on a run directory written here.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/image.h"
#include "data/loader.h"
#include "interpret/attention.h"
#include "interpret/gradcam.h"
#include "interpret/run_models.h"
#include "nn/models/bert.h"
#include "nn/models/resnet.h"
#include "resnet_testing.h"
#include "runs/run_config.h"
#include "testing.h"
#include "text/report.h"
#include "text/unicode.h"

using namespace cxr;
using namespace cxr::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

constexpr int64_t kSize = 128;  // resnet128_6_2_1

// The weight recipe of tools/goldens/resnet.py (resnet_testing.h), then the BatchNorm running
// statistics of tools/goldens/gradcam.py.
void fill_parameters(nn::ResNet& model, uint64_t seed) {
  fill_resnet_parameters(model, seed);
  const TensorOptions f64{.dtype = DType::Float64};
  NoGradGuard no_grad;
  Generator stats(seed + 3);
  nn::NamedTensors buffers = model.named_buffers();
  std::sort(buffers.begin(), buffers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, b] : buffers) {
    if (name.ends_with("running_mean")) copy_(b, (randn(b.shape(), f64, &stats) * 0.1).to(DType::Float32));
    if (name.ends_with("running_var")) copy_(b, (rand(b.shape(), f64, &stats) * 0.5 + 0.75).to(DType::Float32));
  }
}

std::unique_ptr<nn::ResNet> golden_model(int64_t outputs, DType dtype) {
  auto model = nn::make_resnet("resnet128_6_2_1", outputs);
  fill_parameters(*model, kSize);
  if (dtype != DType::Float32) model->to(dtype);
  return model;
}

Tensor golden_image(DType dtype) {
  Generator gen(kSize + 4);
  return rand({1, 1, kSize, kSize}, {.dtype = DType::Float64}, &gen).to(DType::Float32).to(dtype);
}

// max_i |a_i - e_i| / max_i |e_i| (or the plain max error when e is all zero), after a shape check.
double scaled_error(const Tensor& actual, const Tensor& expected, const std::string& what) {
  REQUIRE_MESSAGE(actual.shape() == expected.shape(), what, ": shape ", shape_str(actual.shape()), " vs expected ",
                  shape_str(expected.shape()));
  std::vector<double> a = actual.to_vector(), e = expected.to_vector();
  double worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(a[i] - e[i]));
    scale = std::max(scale, std::abs(e[i]));
  }
  return scale > 0 ? worst / scale : worst;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

// doctest::Contains for a std::string built at run time (it copies the text).
doctest::Contains has(const std::string& part) { return doctest::Contains(part.c_str()); }

// ---- the tiny BERT of tests/goldens/bert.safetensors and a vocabulary for it ----
nn::BertConfig tiny_bert_config() { return nn::BertConfig::load(source_path("tests/goldens/bert_tiny_config.json")); }

std::unique_ptr<nn::BertModel> golden_bert() {
  auto bert = std::make_unique<nn::BertModel>(tiny_bert_config(), nullptr, nn::BertInit::Zeros);
  std::map<std::string, Tensor> params;
  for (const auto& [k, t] : golden("bert").tensors)
    if (k.rfind("param.", 0) == 0) params[k.substr(6)] = t;
  nn::LoadReport report = nn::load_bert_state_dict(*bert, params, /*strict=*/false);  // the MLM head is unexpected
  REQUIRE(report.missing.empty());
  REQUIRE(bert->state_dict().at("encoder.layer.1.attention.self.query.weight").to_vector() ==
          params.at("bert.encoder.layer.1.attention.self.query.weight").to_vector());
  return bert;
}

// 29 tokens (ids below the tiny model's vocab_size 40).
const std::vector<std::string> kTinyVocab = {
    "[PAD]",   "[UNK]",  "[CLS]", "[SEP]", "[MASK]", "mild", "edema",  ",",        ".",   "un",
    "##chang", "##ed",   "no",    "heart", "size",   "is",   "normal", "effusion", "##s", "<",
    ">",       "script", "&",     "\"",    "'",      "left", "right",  "pleural",  "a"};
text::BertTokenizer tiny_tokenizer() { return text::BertTokenizer(text::Vocab(kTinyVocab)); }

// The model's own [CLS] attention row (averaged over heads) for hand-made input ids, optionally
// padded to `pad_to` with mask 0.
std::vector<double> cls_row(nn::BertModel& bert, const std::vector<int64_t>& ids, int layer, int64_t pad_to = 0) {
  std::vector<double> id_values(ids.begin(), ids.end()), mask(ids.size(), 1.0);
  while (pad_to > 0 && static_cast<int64_t>(id_values.size()) < pad_to) {
    id_values.push_back(0);
    mask.push_back(0);
  }
  const auto L = static_cast<int64_t>(id_values.size());
  bert.eval();
  NoGradGuard no_grad;
  nn::BertForwardOutput out = bert.forward(from_vector(id_values, {1, L}, {.dtype = DType::Int64}),
                                           from_vector(mask, {1, L}, {.dtype = DType::Int64}), Tensor(), true);
  Tensor probs = out.attentions.at(static_cast<size_t>(layer));  // (1, heads, L, L)
  std::vector<double> row(static_cast<size_t>(L), 0.0);
  const int64_t heads = probs.size(1);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < L; ++j) row[j] += probs.at({0, h, 0, j}) / double(heads);
  return row;
}

// ---- running the CLI ----
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CliResult {
  int exit_code = -1;
  std::string out, err;
  std::vector<json> lines;
};

// With json_lines, every stdout line must be a JSON object (not for --help).
CliResult run_cli(const std::vector<std::string>& args, bool json_lines = true) {
  static int calls = 0;
  const std::string dir = fs::temp_directory_path().string();
  const std::string stem = dir + "/cxr_interpret_" + std::to_string(::getpid()) + "_cli" + std::to_string(calls++);
  std::string cmd = shell_quote(CXR_CLI_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(stem + ".out") + " 2>" + shell_quote(stem + ".err");
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  r.out = read_text(stem + ".out");
  r.err = read_text(stem + ".err");
  fs::remove(stem + ".out");
  fs::remove(stem + ".err");
  std::istringstream lines(r.out);
  for (std::string line; json_lines && std::getline(lines, line);) {
    try {
      r.lines.push_back(json::parse(line));
    } catch (const json::exception& e) {
      FAIL_CHECK("stdout line is not JSON: ", line, " (", std::string(e.what()), ")");
    }
  }
  return r;
}

// A run directory as docs/RUNS.md: a random resnet128 (4 outputs) under image_model.*, and with
// `text`, the tiny BERT (max_position_embeddings raised to 40, max_seq_length 32) under
// text_model.* with a 4-class text_model.classifier when `classifier`.
struct RunDir {
  std::string dir;
  nn::BertConfig bert_config;
};
RunDir write_run_dir(const std::string& name, bool text, bool classifier) {
  RunDir r{fresh_temp_dir("interpret_" + name), tiny_bert_config()};
  r.bert_config.max_position_embeddings = 40;
  json config = {{"method", text ? "joint" : "image"},
                 {"arch", "resnet128_6_2_1"},
                 {"image_size", 128},
                 {"task", "edema"},
                 {"num_outputs", 4},
                 {"seed", 0}};
  Generator gen(7);
  auto resnet = nn::make_resnet("resnet128_6_2_1", 4, &gen);
  fill_parameters(*resnet, 11);  // non-trivial running statistics
  std::map<std::string, Tensor> tensors;
  for (const auto& [k, t] : resnet->state_dict()) tensors["image_model." + k] = t;
  if (text) {
    fs::create_directories(r.dir + "/text");
    r.bert_config.save(r.dir + "/text/bert_config.json");
    text::Vocab(kTinyVocab).save(r.dir + "/text/vocab.txt");
    config["text_model"] = {{"bert_config", "text/bert_config.json"},
                            {"vocab", "text/vocab.txt"},
                            {"max_seq_length", 32},
                            {"lower_case", true}};
    nn::BertModel bert(r.bert_config, &gen);
    for (const auto& [k, t] : bert.state_dict()) tensors["text_model." + k] = t;
    if (classifier) {
      nn::Linear head(r.bert_config.hidden_size, 4, true, &gen);
      for (const auto& [k, t] : head.state_dict()) tensors["text_model.classifier." + k] = t;
    }
  }
  write_text(r.dir + "/config.json", config.dump(2));
  write_safetensors(r.dir + "/model.safetensors", tensors);
  return r;
}

// A 150 x 140 (width x height) 8-bit test image: a bright disc on a gradient.
std::string write_test_png(const std::string& path) {
  const int64_t h = 140, w = 150;
  std::vector<double> v(static_cast<size_t>(h * w));
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      const double d = std::hypot(double(i - 50), double(j - 90));
      v[i * w + j] = std::min(255.0, std::round(40 + 0.5 * double(i) + (d < 20 ? 150 : 0)));
    }
  data::write_png(path, from_vector(v, {h, w}), 8);
  return path;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Grad-CAM

TEST_CASE("interpret: ResNet forward split at any layer equals forward") {
  auto model = golden_model(4, DType::Float32);
  model->eval();
  NoGradGuard no_grad;
  Tensor x = golden_image(DType::Float32);
  nn::ResNetOutput full = model->forward(x);
  // Every split in Release; four under the (much slower) sanitizer build.
  const std::vector<int64_t> splits =
      kSanitized ? std::vector<int64_t>{0, 3, 5, 6} : std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6};
  for (int64_t k : splits) {
    INFO("split at layer ", k);
    Tensor h = model->forward_until(x, k);
    CHECK(h.size(2) == model->config.map_size(k));
    nn::ResNetOutput split = model->forward_from(k, h);
    CHECK(split.logits.to_vector() == full.logits.to_vector());
    CHECK(split.embedding.to_vector() == full.embedding.to_vector());
    if (k <= 5) CHECK(split.layer5.to_vector() == full.layer5.to_vector());
    CHECK(split.layer6.to_vector() == full.layer6.to_vector());
  }
  CHECK(model->config.map_size(5) == 4);
  CHECK(nn::resnet_config("resnet256_6_2_1").map_size(5) == 8);
  CHECK(nn::resnet_config("resnet2048_7_2_1").map_size(6) == 8);
  CHECK_THROWS_WITH_AS(model->forward_until(x, 7), doctest::Contains("forward_until: no layer 7 (layers 1..6"), Error);
  CHECK_THROWS_WITH_AS(model->forward_from(-1, x), doctest::Contains("forward_from: no layer -1"), Error);
  CHECK_THROWS_WITH_AS(
      model->forward_from(5, zeros({1, 128, 8, 8})),
      doctest::Contains("forward_from(5): expected the layer's output (N, 128, 4, 4), got [1, 128, 8, 8]"), Error);
  CHECK_THROWS_WITH_AS(model->forward_until(zeros({1, 1, 64, 64}), 3),
                       doctest::Contains("expected input (N, 1, 128, 128), got [1, 1, 64, 64]"), Error);
}

TEST_CASE("interpret: bilinear upsampling matches F.interpolate (align_corners=False)") {
  const json sizes = json::parse(golden("gradcam").metadata.at("upsample_sizes"));
  for (const auto& [name, size] : sizes.items()) {
    INFO("case up.", name);
    Tensor in = golden_tensor("gradcam", "up." + name + ".in");
    Tensor out = interpret::upsample_bilinear(in, size[0].get<int64_t>(), size[1].get<int64_t>());
    CHECK(out.dtype() == DType::Float64);
    check_close(out, golden_tensor("gradcam", "up." + name + ".out"), {0, 1e-14}, "upsample " + name);
    Tensor out32 = interpret::upsample_bilinear(in.to(DType::Float32), size[0].get<int64_t>(), size[1].get<int64_t>());
    CHECK(out32.dtype() == DType::Float32);
    check_close(out32, golden_tensor("gradcam", "up." + name + ".out"), {0, 1e-6}, "upsample float32 " + name);
  }
  CHECK_THROWS_WITH_AS(interpret::upsample_bilinear(zeros({2, 3, 4}), 4, 4),
                       doctest::Contains("upsample_bilinear: expected a map (h, w), got [2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(interpret::upsample_bilinear(zeros({2, 3}), 0, 4),
                       doctest::Contains("output size must be positive, got 0x4"), Error);
  CHECK_THROWS_WITH_AS(interpret::upsample_bilinear(zeros({2, 3}, {.dtype = DType::Int64}), 4, 4),
                       doctest::Contains("must be floating point"), Error);
}

TEST_CASE("interpret: Grad-CAM matches PyTorch hooks (layers 6, 5, 4, one output, an all-zero cam)") {
  const json cases = json::parse(golden("gradcam").metadata.at("cases"));
  // float64: the same arithmetic as the float64 reference, up to summation order (measured ~1e-15;
  // the fixture's heatmap is stored as float32, ~3e-8). float32: the model's own rounding (measured
  // logits 3e-7, cam and heatmap <= 2e-6). Errors are relative to the largest value of each quantity.
  for (DType dtype : {DType::Float64, DType::Float32}) {
    const bool f64 = dtype == DType::Float64;
    if (kSanitized && !f64) continue;  // the float64 replay is the exact check; one pass under ASan
    std::map<int64_t, std::unique_ptr<nn::ResNet>> models;
    const Tensor x = golden_image(dtype);
    for (const auto& c : cases) {
      const std::string name = c[0], layer = c[2];
      const int64_t outputs = c[1], target = c[3];
      INFO("case ", name, " (", layer, ", target ", target, ", ", dtype_name(dtype), ")");
      auto& model = models[outputs];
      if (!model) model = golden_model(outputs, dtype);
      model->train();  // grad_cam must switch to eval mode itself and restore this
      const std::vector<double> running_before = model->state_dict().at("layer5.0.bn1.running_mean").to_vector();

      interpret::GradCam cam = interpret::grad_cam(*model, x, target, layer);

      CHECK(cam.target == golden_tensor("gradcam", name + ".target").item<int64_t>());
      CHECK(scaled_error(cam.logits, golden_tensor("gradcam", name + ".logits"), "logits") <= (f64 ? 1e-12 : 5e-6));
      CHECK(cam.logit == doctest::Approx(golden_tensor("gradcam", name + ".logits").at({cam.target})).epsilon(1e-4));
      const Tensor expected_cam = golden_tensor("gradcam", name + ".cam");
      CHECK(scaled_error(cam.cam, expected_cam, "cam") <= (f64 ? 1e-12 : 2e-5));
      CHECK(cam.heatmap.dtype() == dtype);
      CHECK(cam.heatmap.shape() == Shape{kSize, kSize});
      CHECK(scaled_error(cam.heatmap, golden_tensor("gradcam", name + ".heatmap"), "heatmap") <= (f64 ? 1e-7 : 2e-5));
      const double peak = max(cam.heatmap).item();
      if (name == "zero") {
        CHECK(max(expected_cam).item() == 0);
        CHECK(peak == 0);  // all zero stays zero (no division by zero)
      } else {
        CHECK(peak == doctest::Approx(1.0).epsilon(1e-12));
        CHECK(min(cam.heatmap).item() >= 0);
      }
      // No side effects: mode restored, no parameter gradient, requires_grad kept, running stats kept.
      CHECK(model->is_training());
      for (const auto& [pname, p] : model->named_parameters()) {
        INFO(pname);
        CHECK(!p.grad().defined());
        CHECK(p.requires_grad());
      }
      CHECK(model->state_dict().at("layer5.0.bn1.running_mean").to_vector() == running_before);
    }
  }
}

TEST_CASE("interpret: Grad-CAM keeps frozen parameters frozen and works in a model with gradients") {
  auto model = golden_model(4, DType::Float32);
  model->apply_freeze_policy("frozen");  // only layer6 and fc1 train
  Tensor x = golden_image(DType::Float32);
  // A gradient from training, which Grad-CAM must leave as it is.
  Tensor loss = sum(model->forward(x).logits);
  loss.backward();
  const std::vector<double> fc1_grad = model->fc1->weight.grad().to_vector();
  interpret::grad_cam(*model, x, 1, "layer5");
  CHECK(model->fc1->weight.grad().to_vector() == fc1_grad);
  CHECK(model->fc1->weight.requires_grad());
  CHECK(!model->conv1->weight.requires_grad());
  CHECK(!model->layers[4]->named_parameters().front().second.requires_grad());
}

TEST_CASE("interpret: Grad-CAM finds the evidence (a non-negative network, one bright square)") {
  // Every convolution a positive weighted average (|w| normalized per output channel), BatchNorm the
  // identity, fc1 positive, no biases: on a non-negative image the network is linear and positive,
  // an activation is a blur of the pixels in its receptive field, and the logit comes only from the
  // square. So alpha > 0 and the map must follow the square. Squares in two quarters catch a
  // transposed or flipped map. (Receptive fields are wide, so the 4x4 layer5 map is broad.)
  auto model = nn::make_resnet("resnet128_6_2_1", 2);
  fill_parameters(*model, 3);
  {
    NoGradGuard no_grad;
    for (auto& [name, p] : model->named_parameters()) {
      if (name.ends_with("bias")) {
        copy_(p, zeros_like(p));
      } else if (p.dim() == 4) {
        Tensor a = abs(p);
        copy_(p, a / sum(a, {1, 2, 3}, true));
      } else if (p.dim() == 2) {
        copy_(p, abs(p));
      } else {
        copy_(p, ones_like(p));  // BatchNorm weight
      }
    }
    for (auto& [name, b] : model->named_buffers()) {
      if (name.ends_with("running_mean")) copy_(b, zeros_like(b));
      if (name.ends_with("running_var")) copy_(b, ones_like(b));
    }
  }
  struct Square {
    int64_t top, left;
    int quarter;  // 0 upper-left, 1 upper-right, 2 lower-left, 3 lower-right
  };
  auto quarter_of = [](int64_t i) { return (i / kSize >= kSize / 2 ? 2 : 0) + (i % kSize >= kSize / 2 ? 1 : 0); };
  for (const Square sq : {Square{12, 16, 0}, Square{20, 80, 1}}) {
    INFO("square at (", sq.top, ", ", sq.left, ")");
    Tensor x = zeros({1, 1, kSize, kSize});
    copy_(x.narrow(2, sq.top, 28).narrow(3, sq.left, 28), ones({1, 1, 28, 28}));
    for (const char* layer : {"layer5", "layer4"}) {
      INFO(layer);
      interpret::GradCam cam = interpret::grad_cam(*model, x, 0, layer);
      CHECK(min(cam.cam).item() > 0);  // positive everywhere: every cell sees some of the square
      std::vector<double> heat = cam.heatmap.to_vector(), mass(4, 0.0);
      int64_t peak = 0;
      for (int64_t i = 0; i < kSize * kSize; ++i) {
        if (heat[i] > heat[peak]) peak = i;
        mass[quarter_of(i)] += heat[i];
      }
      const double total = mass[0] + mass[1] + mass[2] + mass[3];
      CHECK(quarter_of(peak) == sq.quarter);
      CHECK(std::max_element(mass.begin(), mass.end()) - mass.begin() == sq.quarter);
      // Measured: layer5 47% / 54%, layer4 82% / 81% of the heatmap in the square's quarter (25% if uniform).
      CHECK(mass[sq.quarter] / total > (std::string(layer) == "layer4" ? 0.7 : 0.4));
      // The coarse cam's largest cell is at most one cell from the square's centre.
      const int64_t h = cam.cam.size(0), cell = kSize / h;
      std::vector<double> cells = cam.cam.to_vector();
      const auto best = std::max_element(cells.begin(), cells.end()) - cells.begin();
      const int64_t cy = (sq.top + 14) / cell, cx = (sq.left + 14) / cell;
      CHECK(std::abs(best / h - cy) <= 1);
      CHECK(std::abs(best % h - cx) <= 1);
    }
  }
}

TEST_CASE("interpret: Grad-CAM errors name the problem") {
  auto model = golden_model(4, DType::Float32);
  Tensor x = golden_image(DType::Float32);
  CHECK_THROWS_WITH_AS(
      interpret::grad_cam(*model, zeros({1, 1, 64, 64})),
      doctest::Contains("grad_cam: expected one image (1, 1, 128, 128) for resnet128_6_2_1, got [1, 1, 64, 64]"),
      Error);
  CHECK_THROWS_WITH_AS(interpret::grad_cam(*model, zeros({2, 1, 128, 128})), doctest::Contains("got [2, 1, 128, 128]"),
                       Error);
  CHECK_THROWS_WITH_AS(interpret::grad_cam(*model, zeros({128, 128})), doctest::Contains("got [128, 128]"), Error);
  CHECK_THROWS_WITH_AS(interpret::grad_cam(*model, zeros({1, 1, 128, 128}, {.dtype = DType::Int64})),
                       doctest::Contains("must be floating point"), Error);
  for (const char* bad : {"layer7", "layer0", "conv1", "layer", "layer05x", "fc1", ""})
    CHECK_THROWS_WITH_AS(interpret::grad_cam(*model, x, -1, bad),
                         has("grad_cam: unknown layer '" + std::string(bad) + "' (resnet128_6_2_1 has layer1..layer6)"),
                         Error);
  CHECK_THROWS_WITH_AS(interpret::grad_cam(*model, x, 4), doctest::Contains("class 4 out of range"), Error);
  CHECK_THROWS_WITH_AS(interpret::grad_cam(*model, x, -2), doctest::Contains("class -2 out of range"), Error);
  auto single = golden_model(1, DType::Float32);
  CHECK_THROWS_WITH_AS(interpret::grad_cam(*single, x, 1), doctest::Contains("has 1 output: class 0"), Error);
  {
    NoGradGuard no_grad;
    CHECK_THROWS_WITH_AS(interpret::grad_cam(*model, x), doctest::Contains("grad mode is off"), Error);
  }
  // After the errors the model is as before.
  CHECK(model->is_training());
  for (const auto& [name, p] : model->named_parameters()) CHECK(p.requires_grad());
}

TEST_CASE("interpret: the overlay blends the image with cubehelix") {
  // cubehelix: black to white with monotonically rising luminance, no channel clipped.
  interpret::Rgb lo = interpret::cubehelix(0), hi = interpret::cubehelix(1);
  CHECK(lo.r == 0);
  CHECK(lo.g == 0);
  CHECK(lo.b == 0);
  CHECK(hi.r == doctest::Approx(1));
  CHECK(hi.g == doctest::Approx(1));
  CHECK(hi.b == doctest::Approx(1));
  double previous = -1;
  for (int i = 0; i <= 1000; ++i) {
    interpret::Rgb c = interpret::cubehelix(i / 1000.0);
    const double luminance = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    CHECK(luminance >= previous);
    previous = luminance;
    if (i > 0 && i < 1000) CHECK((c.r > 0 && c.r < 1 && c.g > 0 && c.g < 1 && c.b > 0 && c.b < 1));
  }
  interpret::Rgb mid = interpret::cubehelix(0.5);  // a hue, not a gray
  CHECK(std::max({mid.r, mid.g, mid.b}) - std::min({mid.r, mid.g, mid.b}) > 0.2);
  CHECK(interpret::cubehelix(-3).r == 0);
  CHECK(interpret::cubehelix(std::nan("")).g == 0);

  Tensor image = from_vector({0.0, 0.5, 1.0, 2.0}, {2, 2});
  Tensor heat = from_vector({0.0, 1.0, 0.25, 0.0}, {2, 2});
  Tensor out = interpret::overlay(image, heat, 0.4);
  REQUIRE(out.shape() == Shape{2, 2, 3});
  CHECK(out.dtype() == DType::Float32);
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 2; ++j) {
      const double g = std::min(1.0, image.at({i, j}));
      interpret::Rgb c = interpret::cubehelix(heat.at({i, j}));
      CHECK(out.at({i, j, 0}) == std::round(255 * (0.6 * g + 0.4 * c.r)));
      CHECK(out.at({i, j, 1}) == std::round(255 * (0.6 * g + 0.4 * c.g)));
      CHECK(out.at({i, j, 2}) == std::round(255 * (0.6 * g + 0.4 * c.b)));
    }
  CHECK(interpret::overlay(image.reshape({1, 1, 2, 2}), heat).to_vector() ==
        interpret::overlay(image, heat).to_vector());
  CHECK(interpret::overlay(image, heat, 0).to_vector()[3] == 128);  // pure image: round(255 * 0.5)
  CHECK_THROWS_WITH_AS(interpret::overlay(zeros({3, 2}), heat),
                       doctest::Contains("overlay: expected a grayscale image (2, 2) or (1, 1, 2, 2)"), Error);
  CHECK_THROWS_WITH_AS(interpret::overlay(image, zeros({1, 2, 2})), doctest::Contains("expected a heatmap (S, S)"),
                       Error);
  CHECK_THROWS_WITH_AS(interpret::overlay(image, heat, 1.5), doctest::Contains("alpha must be in [0, 1]"), Error);
}

// ---------------------------------------------------------------------------------------------
// Report attention

TEST_CASE("interpret: word spans agree with basic_tokenize on the tokenizer's Unicode cases") {
  std::ifstream in(source_path("tests/goldens/wordpiece_cases.json"));
  REQUIRE(in);
  const json j = json::parse(in);
  int n = 0;
  for (const auto& c : j["cases"]) {
    const std::string text = c["text"];
    const bool lower = c["lower"];
    INFO("text '", text, "', lower ", lower);
    const text::BasicTokenizerOptions options{.do_lower_case = lower};
    std::vector<interpret::SpannedToken> tokens = interpret::basic_tokenize_with_spans(text, options);
    std::vector<std::string> words;
    size_t previous_end = 0;
    for (const auto& t : tokens) {
      words.push_back(t.token);
      CHECK(t.begin >= previous_end);
      CHECK(t.begin < t.end);
      CHECK(t.end <= text.size());
      // The span's own text tokenizes to exactly this token.
      CHECK(text::basic_tokenize(text.substr(t.begin, t.end - t.begin), options) == std::vector<std::string>{t.token});
      previous_end = t.end;
    }
    CHECK(words == c["basic"].get<std::vector<std::string>>());
    ++n;
  }
  CHECK(n > 100);
  // By hand: case and accents, punctuation, a control character inside a word, CJK, line separator.
  auto spans = interpret::basic_tokenize_with_spans(
      "Mild EDEMA,\tH\xC3\xA9llo a\x01"
      "b \xE5\x8D\x9Ax\xE2\x80\xA8y");
  std::vector<std::tuple<std::string, size_t, size_t>> got;
  for (const auto& t : spans) got.emplace_back(t.token, t.begin, t.end);
  CHECK(got == std::vector<std::tuple<std::string, size_t, size_t>>{{"mild", 0, 4},
                                                                    {"edema", 5, 10},
                                                                    {",", 10, 11},
                                                                    {"hello", 12, 18},
                                                                    {"ab", 19, 22},
                                                                    {"\xE5\x8D\x9A", 23, 26},
                                                                    {"x", 26, 27},
                                                                    {"y", 30, 31}});
  CHECK_THROWS_WITH_AS(interpret::basic_tokenize_with_spans("ok \xFF"), doctest::Contains("invalid"), Error);
}

TEST_CASE("interpret: [CLS] attention merges word pieces (checked by hand against the model's attentions)") {
  auto bert = golden_bert();
  const text::BertTokenizer tok = tiny_tokenizer();
  const std::string report = "Mild edema, UNCHANGED.";
  // By hand: [CLS] mild edema , un ##chang ##ed . [SEP]
  const std::vector<int64_t> ids = {2, 5, 6, 7, 9, 10, 11, 8, 3};
  REQUIRE(tok.features(report, 12, false).input_ids == ids);
  bert->train();  // cls_attention must use eval mode (no dropout) and restore this
  for (int layer : {-1, 0, 1, -2}) {
    INFO("layer ", layer);
    interpret::TokenWeights w = interpret::cls_attention(*bert, tok, report, 12, layer);
    CHECK(bert->is_training());
    const int used = layer < 0 ? 2 + layer : layer;
    CHECK(w.layer == used);
    CHECK(w.text == report);
    CHECK(w.words == std::vector<std::string>{"mild", "edema", ",", "unchanged", "."});
    CHECK(w.spans == std::vector<std::pair<size_t, size_t>>{{0, 4}, {5, 10}, {10, 11}, {12, 21}, {21, 22}});
    CHECK(w.num_pieces == std::vector<int64_t>{1, 1, 1, 3, 1});
    const std::vector<double> row = cls_row(*bert, ids, used);
    bert->train();
    std::vector<double> expected = {row[1], row[2], row[3], row[4] + row[5] + row[6], row[7]};
    double total = 0;
    for (double v : expected) total += v;
    CHECK(total < 1 - 1e-3);  // [CLS] and [SEP] took some attention that is dropped
    for (double& v : expected) v /= total;
    REQUIRE(w.weights.size() == expected.size());
    double sum_w = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      CHECK(w.weights[i] == doctest::Approx(expected[i]).epsilon(1e-9));
      sum_w += w.weights[i];
    }
    CHECK(sum_w == doctest::Approx(1.0).epsilon(1e-12));
    // Padding to max_seq_length with mask 0 changes nothing: padded keys get zero attention.
    const std::vector<double> padded = cls_row(*bert, ids, used, 12);
    bert->train();
    for (size_t i = ids.size(); i < padded.size(); ++i) CHECK(padded[i] < 1e-30);
    CHECK(padded[4] + padded[5] + padded[6] == doctest::Approx(row[4] + row[5] + row[6]).epsilon(1e-5));
  }
}

TEST_CASE("interpret: [CLS] attention with truncation, unknown words, empty reports and bad input") {
  auto bert = golden_bert();
  const text::BertTokenizer tok = tiny_tokenizer();
  // max_seq_length 6 keeps 4 pieces: mild edema , un | ##chang ##ed . are cut.
  interpret::TokenWeights w = interpret::cls_attention(*bert, tok, "Mild edema, UNCHANGED.", 6);
  CHECK(w.num_pieces == std::vector<int64_t>{1, 1, 1, 1, 0});
  const std::vector<double> row = cls_row(*bert, {2, 5, 6, 7, 9, 3}, 1);
  const double total = row[1] + row[2] + row[3] + row[4];
  CHECK(w.weights[3] == doctest::Approx(row[4] / total).epsilon(1e-9));
  CHECK(w.weights[4] == 0);
  CHECK(w.words.size() == 5);  // the cut word is still listed (for the highlighted report)

  // A word the vocabulary cannot cover is one [UNK] piece and keeps its weight.
  w = interpret::cls_attention(*bert, tok, "mild zebra", 12);
  CHECK(w.words == std::vector<std::string>{"mild", "zebra"});
  CHECK(w.num_pieces == std::vector<int64_t>{1, 1});
  const std::vector<double> unk_row = cls_row(*bert, {2, 5, 1, 3}, 1);
  CHECK(w.weights[1] == doctest::Approx(unk_row[2] / (unk_row[1] + unk_row[2])).epsilon(1e-9));

  for (const std::string empty : {"", "   \n\t", "\x01\x02"}) {
    w = interpret::cls_attention(*bert, tok, empty, 12);
    CHECK(w.words.empty());
    CHECK(w.weights.empty());
    CHECK(w.spans.empty());
  }
  CHECK_THROWS_WITH_AS(interpret::cls_attention(*bert, tok, "mild \xC3(", 12),
                       doctest::Contains("cls_attention: the report is not valid UTF-8"), Error);
  CHECK_THROWS_WITH_AS(interpret::cls_attention(*bert, tok, "mild", 12, 2),
                       doctest::Contains("cls_attention: layer 2 out of range (the model has 2 layers"), Error);
  CHECK_THROWS_WITH_AS(interpret::cls_attention(*bert, tok, "mild", 12, -3), doctest::Contains("layer -3 out of range"),
                       Error);
  CHECK_THROWS_WITH_AS(interpret::cls_attention(*bert, tok, "mild", 1),
                       doctest::Contains("max_seq_length must be at least 2"), Error);
  CHECK_THROWS_WITH_AS(interpret::cls_attention(*bert, tok, "a a a a a a a a a a a a a a", 320),
                       doctest::Contains("16 tokens exceed the model's max_position_embeddings 12"), Error);
}

TEST_CASE("interpret: highlighted report HTML escapes hostile text") {
  CHECK(interpret::html_escape("<script>alert('x') & \"y\"</script>") ==
        "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(interpret::html_escape("a\xFF"
                               "b") == "a" + fffd + "b");
  CHECK(interpret::html_escape("\xC0\xAF") == fffd + fffd);             // overlong '/'
  CHECK(interpret::html_escape("\xED\xA0\x80") == fffd + fffd + fffd);  // a surrogate
  CHECK(interpret::html_escape("end\xE2\x82") == "end" + fffd + fffd);  // truncated
  CHECK(interpret::html_escape(std::string("n\0l", 3)) == "n" + fffd + "l");
  CHECK(interpret::html_escape("caf\xC3\xA9 \xE5\x8D\x9A \xF0\x9F\x98\x80") ==
        "caf\xC3\xA9 \xE5\x8D\x9A \xF0\x9F\x98\x80");

  // Through the model: tags and quotes in a report become words, escaped in spans and in between.
  auto bert = golden_bert();
  const std::string report = "<script>\"no\" & 'left'</script>\n\nEdema";
  interpret::TokenWeights w = interpret::cls_attention(*bert, tiny_tokenizer(), report, 12);
  CHECK(w.words.size() == 15);
  const std::string html = interpret::highlighted_report_html(w, "r<1>.txt");
  CHECK(!contains(html, "<script"));
  CHECK(!contains(html, "</script"));
  CHECK(contains(html, "<h3>r&lt;1&gt;.txt</h3>"));
  CHECK(contains(html, "&quot;</span>"));
  CHECK(contains(html, "&#39;</span>"));
  CHECK(contains(html, ">&amp;</span>"));
  CHECK(contains(html, "\n\n<span"));                  // the text between words is kept
  CHECK(contains(html, ">Edema</span>"));              // the original text is shown, not the lower-cased token
  CHECK(contains(html, "rgba(255, 140, 0, 1.0000)"));  // the heaviest word at full opacity
  text::utf8_decode(html, "html");                     // valid UTF-8
  size_t spans = 0;
  for (size_t p = html.find("<span"); p != std::string::npos; p = html.find("<span", p + 1)) ++spans;
  CHECK(spans == w.words.size());

  // Hand-made weights: odd bytes in words and text, no spans, a title with quotes.
  interpret::TokenWeights hand;
  hand.text = "x\xFF<b>";
  hand.words = {"x\xFF", "<b>"};
  hand.weights = {0.25, 0.75};
  std::string no_spans = interpret::highlighted_report_html(hand, "\"t\"");
  CHECK(contains(no_spans, "<h3>&quot;t&quot;</h3>"));
  CHECK(contains(no_spans, ">x" + fffd + "</span> <span"));
  CHECK(contains(no_spans, ">&lt;b&gt;</span>"));
  CHECK(contains(no_spans, "rgba(255, 140, 0, 0.3333)"));
  text::utf8_decode(no_spans, "html");
  hand.spans = {{0, 2}, {2, 5}};
  CHECK(contains(interpret::highlighted_report_html(hand), ">x" + fffd + "</span><span"));
  hand.spans = {{0, 2}, {1, 5}};  // overlapping: the second word shows the rest of its span
  CHECK(contains(interpret::highlighted_report_html(hand), ">x" + fffd + "</span><span"));
  hand.spans = {{0, 2}, {2, 9}};
  CHECK_THROWS_WITH_AS(interpret::highlighted_report_html(hand),
                       doctest::Contains("span 1 [2, 9) is empty or outside the text (5 bytes)"), Error);
  hand.spans = {{0, 2}, {3, 3}};
  CHECK_THROWS_WITH_AS(interpret::highlighted_report_html(hand), doctest::Contains("is empty or outside"), Error);
  hand.weights = {1.0};
  CHECK_THROWS_WITH_AS(interpret::highlighted_report_html(hand), doctest::Contains("2 words but 1 weights"), Error);
}

// ---------------------------------------------------------------------------------------------
// Run directories and `cxr explain`

TEST_CASE("interpret: models load from a run directory, errors name the file") {
  RunDir run = write_run_dir("load", true, true);
  runs::RunConfig c = runs::read_run_config(run.dir);
  CHECK(c.arch == "resnet128_6_2_1");
  CHECK(c.num_outputs == 4);
  CHECK(c.image_size == 128);
  CHECK(c.has_text_model);
  CHECK(c.text_model.vocab == run.dir + "/text/vocab.txt");
  CHECK(c.text_model.max_seq_length == 32);
  auto model = interpret::load_image_model(run.dir);
  CHECK(!model->is_training());
  const SafetensorsFile file = read_safetensors(run.dir + "/model.safetensors");
  CHECK(model->state_dict().at("layer3.1.bn2.running_var").to_vector() ==
        file.tensors.at("image_model.layer3.1.bn2.running_var").to_vector());
  interpret::TextModel tm = interpret::load_text_model(run.dir);
  REQUIRE(tm.classifier);
  CHECK(tm.classifier->weight.shape() == Shape{4, 16});
  CHECK(tm.bert->state_dict().at("pooler.dense.weight").to_vector() ==
        file.tensors.at("text_model.pooler.dense.weight").to_vector());
  CHECK(tm.max_seq_length == 32);
  CHECK(tm.tokenizer->vocab().size() == static_cast<int64_t>(kTinyVocab.size()));

  CHECK(interpret::probability_kind(4, "edema") == "softmax");
  CHECK(interpret::probability_kind(3, "findings") == "sigmoid");
  CHECK(interpret::probability_kind(1, "Cardiomegaly") == "sigmoid");
  CHECK(interpret::probabilities_from_logits(from_vector({0.0, 0.0}), "findings").to_vector() ==
        std::vector<double>{0.5, 0.5});

  // Errors.
  CHECK_THROWS_WITH_AS(runs::read_run_config(run.dir + "/nope"), doctest::Contains("nope: not a run directory"),
                       Error);
  RunDir image_only = write_run_dir("load_image_only", false, false);
  CHECK_THROWS_WITH_AS(interpret::load_text_model(image_only.dir), has(image_only.dir + "/config.json: no text_model"),
                       Error);
  const std::string cfg = run.dir + "/config.json";
  write_text(cfg, "{\"arch\": \"resnet128_6_2_1\"");
  CHECK_THROWS_WITH_AS(runs::read_run_config(run.dir), has(cfg + ": invalid JSON"), Error);
  write_text(cfg, R"({"arch": "resnet128_6_2_1"})");
  CHECK_THROWS_WITH_AS(runs::read_run_config(run.dir), has(cfg + ": missing required field 'num_outputs'"), Error);
  write_text(cfg, R"({"arch": "resnet128_6_2_1", "num_outputs": "four"})");
  CHECK_THROWS_WITH_AS(runs::read_run_config(run.dir), doctest::Contains("field 'num_outputs' must be an integer"),
                       Error);
  write_text(cfg, R"({"arch": "resnet99", "num_outputs": 4})");
  CHECK_THROWS_WITH_AS(runs::read_run_config(run.dir), doctest::Contains("unknown architecture 'resnet99'"),
                       Error);
  write_text(cfg, R"({"arch": "resnet128_6_2_1", "num_outputs": 4, "image_size": 256})");
  CHECK_THROWS_WITH_AS(runs::read_run_config(run.dir), doctest::Contains("image_size 256 does not match"), Error);
  write_text(cfg, R"({"arch": "resnet128_6_2_1", "num_outputs": 3})");
  CHECK_THROWS_WITH_AS(interpret::load_image_model(run.dir),
                       has(run.dir + "/model.safetensors: image_model (resnet128_6_2_1, 3 outputs)"), Error);
  write_text(cfg, R"({"arch": "resnet128_6_2_1", "num_outputs": 4})");
  CHECK_THROWS_WITH_AS(interpret::load_image_model(run.dir, "best.safetensors"),
                       has(run.dir + "/best.safetensors: no such checkpoint file"), Error);
  write_text(run.dir + "/best.safetensors", "not a safetensors file");
  CHECK_THROWS_WITH_AS(interpret::load_image_model(run.dir, "best.safetensors"), has(run.dir + "/best.safetensors"),
                       Error);
  write_safetensors(run.dir + "/best.safetensors", {{"critic.weight", zeros({2})}});
  CHECK_THROWS_WITH_AS(interpret::load_image_model(run.dir, "best.safetensors"),
                       doctest::Contains("no image model weights (no tensor named image_model.*)"), Error);
  fs::remove_all(run.dir);
  fs::remove_all(image_only.dir);
}

TEST_CASE("interpret: cxr explain writes Grad-CAM and attention files that match the library") {
  RunDir run = write_run_dir("cli", true, true);
  const std::string inputs = fresh_temp_dir("interpret_cli_inputs"), out = run.dir + "/out";
  const std::string png = write_test_png(inputs + "/study 1.png");
  const std::string report_path = inputs + "/report.txt";
  const std::string report =
      "INDICATION: dyspnea.\nFINDINGS: Mild <edema>, unchanged.\nNo pleural effusions & \"normal\" heart size.\n"
      "IMPRESSION: Mild edema.";
  write_text(report_path, report);

  CliResult r = run_cli({"explain", "--checkpoint", run.dir, "--layer", "layer5", "--out", out, png, report_path});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0]["kind"] == "image");
  CHECK(r.lines[0]["outputs"][0] == out + "/study 1_gradcam.png");
  CHECK(r.lines[1]["kind"] == "report");

  // The image: the same Grad-CAM in process.
  auto model = interpret::load_image_model(run.dir);
  Generator unused(0);
  Tensor x = data::eval_transform(128)(data::load_image(png).pixels, unused).reshape({1, 1, 128, 128});
  interpret::GradCam cam = interpret::grad_cam(*model, x, -1, "layer5");
  const json g = json::parse(read_text(out + "/study 1_gradcam.json"));
  CHECK(g["target"] == cam.target);
  CHECK(g["layer"] == "layer5");
  CHECK(g["arch"] == "resnet128_6_2_1");
  CHECK(g["probability_kind"] == "softmax");
  REQUIRE(g["cam"].size() == 4);
  for (int64_t u = 0; u < 4; ++u)
    for (int64_t v = 0; v < 4; ++v)
      CHECK(g["cam"][u][v].get<double>() == doctest::Approx(cam.cam.at({u, v})).epsilon(1e-6));
  double psum = 0;
  for (const auto& p : g["probabilities"]) psum += p.get<double>();
  CHECK(psum == doctest::Approx(1.0));
  CHECK(g["logits"][cam.target].get<double>() == doctest::Approx(cam.logit).epsilon(1e-6));
  // The overlay PNG: RGB (S, S); its luminance (as load_image computes it) is the in-process overlay's.
  data::Image written = data::load_image(out + "/study 1_gradcam.png");
  CHECK(written.channels == 3);
  REQUIRE(written.pixels.shape() == Shape{128, 128});
  Tensor rgb = interpret::overlay(x, cam.heatmap);
  std::vector<double> expected_l(128 * 128), got_l = written.pixels.to_vector(), rgbv = rgb.to_vector();
  int64_t differ = 0;
  for (size_t i = 0; i < expected_l.size(); ++i) {
    const auto r8 = static_cast<uint32_t>(rgbv[3 * i]), g8 = static_cast<uint32_t>(rgbv[3 * i + 1]),
               b8 = static_cast<uint32_t>(rgbv[3 * i + 2]);
    differ += got_l[i] != double((r8 * 19595 + g8 * 38470 + b8 * 7471 + 0x8000) >> 16);
  }
  CHECK(differ == 0);

  // The report: the Findings and Impression sections, as the trainer feeds them; the same attention
  // in process; the HTML holds the words and the prediction.
  const std::string extracted = text::extract_report_text(report).text;
  REQUIRE(extracted == "Mild <edema>, unchanged.\nNo pleural effusions & \"normal\" heart size.\nMild edema.");
  interpret::TextModel tm = interpret::load_text_model(run.dir);
  interpret::TokenWeights w = interpret::cls_attention(*tm.bert, *tm.tokenizer, extracted, 32);
  const json a = json::parse(read_text(out + "/report_attention.json"));
  CHECK(a["text"] == extracted);
  CHECK(a["text_source"] == "sections");
  CHECK(a["words"].get<std::vector<std::string>>() == w.words);
  REQUIRE(a["weights"].size() == w.weights.size());
  for (size_t i = 0; i < w.weights.size(); ++i) CHECK(a["weights"][i].get<double>() == doctest::Approx(w.weights[i]));
  CHECK(a["layer"] == 1);
  CHECK(a["spans"][0] == json::array({0, 4}));  // "Mild"
  CHECK(a["probability_kind"] == "softmax");
  CHECK(a["probabilities"].size() == 4);
  CHECK(a["predicted"].get<int64_t>() >= 0);
  const std::string html = read_text(out + "/report_attention.html");
  CHECK(html.starts_with("<!DOCTYPE html>"));
  CHECK(contains(html, "<meta charset=\"utf-8\">"));
  CHECK(contains(html, ">Mild</span>"));
  CHECK(!contains(html, "INDICATION"));
  CHECK(contains(html, "&lt;</span><span"));
  CHECK(contains(html, "Text head (softmax): "));
  CHECK(contains(html, "<b>class " + std::to_string(a["predicted"].get<int64_t>()) + ": "));
  CHECK(!contains(html, "<edema>"));

  // --no-extract: the whole file, which is longer than max_seq_length 32 (the tail gets weight 0).
  r = run_cli({"explain", "--checkpoint", run.dir, "--no-extract", "--out", out, report_path});
  REQUIRE(r.exit_code == 0);
  const json whole = json::parse(read_text(out + "/report_attention.json"));
  CHECK(whole["text"] == report);
  CHECK(whole["text_source"] == "file");
  CHECK(whole["words"][0] == "indication");
  CHECK(whole["num_pieces"].back() == 0);
  CHECK(whole["weights"].back() == 0.0);
  fs::remove_all(run.dir);
  fs::remove_all(inputs);
}

TEST_CASE("interpret: cxr explain errors and exit codes") {
  RunDir run = write_run_dir("cli_errors", false, false);
  const std::string inputs = fresh_temp_dir("interpret_cli_errors_inputs"), out = run.dir + "/explain";
  const std::string png = write_test_png(inputs + "/a.png");
  write_text(inputs + "/r.txt", "mild edema");
  write_text(inputs + "/notes.doc", "x");
  fs::create_directories(inputs + "/other");
  write_test_png(inputs + "/other/a.png");

  // Some inputs bad: exit 1, the good one still done (default --out RUN_DIR/explain), each named.
  CliResult r = run_cli({"explain", "--checkpoint", run.dir, png, inputs + "/r.txt", inputs + "/missing.png",
                         inputs + "/notes.doc", inputs + "/other/a.png"});
  CHECK(r.exit_code == 1);
  REQUIRE(r.lines.size() == 1);
  CHECK(fs::exists(out + "/a_gradcam.png"));
  CHECK(fs::exists(out + "/a_gradcam.json"));
  CHECK(contains(r.err, inputs + "/r.txt: this run has no text encoder"));
  CHECK(contains(r.err, inputs + "/missing.png"));
  CHECK(contains(r.err, inputs + "/notes.doc: unknown input type"));
  CHECK(contains(r.err, inputs + "/other/a.png: another input already wrote a_gradcam.*"));
  CHECK(contains(r.err, "4 of 5 inputs failed"));

  // Fatal: nothing done, exit 2.
  r = run_cli({"explain", "--checkpoint", inputs + "/no-run", png});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "no-run: not a run directory"));
  r = run_cli({"explain", "--checkpoint", run.dir, "--layer", "layer9", png});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "--layer 'layer9': resnet128_6_2_1 has layer1..layer6"));
  r = run_cli({"explain", "--checkpoint", run.dir, "--target", "4", png});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "--target 4 out of range: the image model has 4 outputs"));
  write_text(run.dir + "/model.safetensors", "garbage");
  r = run_cli({"explain", "--checkpoint", run.dir, "--out", inputs + "/o2", png});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, run.dir + "/model.safetensors"));
  CHECK(!fs::exists(inputs + "/o2"));

  // --help and command-line errors.
  r = run_cli({"explain", "--help"}, false);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "Grad-CAM"));
  CHECK(contains(r.out, "--checkpoint"));
  CHECK(contains(r.out, "_attention.html"));
  r = run_cli({"explain", png});
  CHECK(r.exit_code != 0);
  CHECK(contains(r.err, "--checkpoint is required"));
  fs::remove_all(run.dir);
  fs::remove_all(inputs);
}
