// explain.cpp — `cxr explain --checkpoint RUN_DIR [--layer layer6] [--target K] [--out DIR] INPUT...`:
// what a trained run (docs/RUNS.md) looks at, per input (method: docs/INTERPRETATION.md).
//   image (.png, .jpg, .jpeg): load -> eval_transform(image_size) (center crop, x / max) -> Grad-CAM
//     of the image model at --layer for class --target (default: the arg max)
//     -> DIR/<stem>_gradcam.png  the overlay (S, S) RGB, cubehelix colormap at alpha 0.45
//     -> DIR/<stem>_gradcam.json {input, arch, layer, target, logit, logits, probabilities,
//        probability_kind, cam (h rows of w values, before upsampling), cam_max, overlay, colormap, alpha}
//   report (.txt, UTF-8): needs text_model in config.json -> the text the trainer feeds the encoder
//     (text::extract_report_text: Findings/Impression/... sections; --no-extract: the whole file)
//     -> [CLS] attention of the text encoder's last layer (or --attention-layer), merged into words
//     -> DIR/<stem>_attention.html  the report with the words highlighted (a standalone page),
//        with the text head's prediction when the checkpoint has text_model.classifier.*
//     -> DIR/<stem>_attention.json {input, text (what the model read; spans index it), text_source,
//        layer, words, weights, spans, num_pieces[, logits, probabilities, probability_kind, predicted]}
// stdout: one JSON line per input done: {"input", "kind": "image"|"report", "outputs": [files]}.
// Exit code: 0 all inputs done; 1 some input failed (named on stderr, the others still done);
// 2 nothing done: bad run directory or checkpoint, bad arguments.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "apps/command.h"
#include "autograd/node.h"
#include "data/image.h"
#include "data/loader.h"
#include "interpret/attention.h"
#include "interpret/gradcam.h"
#include "interpret/run_models.h"
#include "ops/ops.h"
#include "runs/run_config.h"
#include "runs/run_dir.h"
#include "tensor/file_io.h"
#include "text/report.h"

namespace cxr::apps {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ExplainOptions {
  std::string checkpoint;
  std::string weights = runs::RunPaths::kModelFile;
  std::string layer = "layer6";
  int64_t target = -1;
  int attention_layer = -1;
  bool no_extract = false;
  std::string out;
  std::string device = "cpu";
  std::vector<std::string> inputs;
};

enum class InputKind { Image, Report, Unknown };

InputKind kind_of(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") return InputKind::Image;
  if (ext == ".txt") return InputKind::Report;
  return InputKind::Unknown;
}

// Non-finite values become null (JSON has no NaN).
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
json numbers(const Tensor& t) {
  json a = json::array();
  for (double v : t.to_vector()) a.push_back(number(v));
  return a;
}
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Everything the per-input steps share.
struct Session {
  const ExplainOptions& opt;
  runs::RunConfig config;
  std::unique_ptr<nn::ResNet> image_model;
  std::unique_ptr<interpret::TextModel> text_model;
  Device device = Device::CPU;
};

std::vector<std::string> explain_image(Session& s, const std::string& path, const std::string& stem) {
  const int64_t size = s.config.image_size;
  data::Image image = data::load_image(path);  // errors name the file
  Generator unused(0);                         // eval_transform draws nothing
  Tensor x = data::resized(s.config.resize, data::eval_transform(size))(image.pixels, unused).reshape({1, 1, size, size});
  interpret::GradCam cam = interpret::grad_cam(*s.image_model, x, s.opt.target, s.opt.layer);

  const std::string png_name = stem + runs::RunPaths::kGradcamPngSuffix, json_name = stem + runs::RunPaths::kGradcamJsonSuffix;
  data::write_png((fs::path(s.opt.out) / png_name).string(), interpret::overlay(x, cam.heatmap), 8);
  json rows = json::array();
  for (int64_t u = 0; u < cam.cam.size(0); ++u) rows.push_back(numbers(cam.cam.select(0, u)));
  json j = {{"input", path},
            {"arch", s.config.arch},
            {"layer", s.opt.layer},
            {"target", cam.target},
            {"logit", number(cam.logit)},
            {"logits", numbers(cam.logits)},
            {"probabilities", numbers(interpret::probabilities_from_logits(cam.logits, s.config.task))},
            {"probability_kind", interpret::probability_kind(cam.logits.size(0), s.config.task)},
            {"cam", rows},
            {"cam_max", number(max(cam.cam).item())},
            {"overlay", png_name},
            {"colormap", "cubehelix(start 0.5, rotations -0.7, hue 2.0)"},
            {"alpha", 0.45}};
  write_file_atomic((fs::path(s.opt.out) / json_name).string(), dump(j) + "\n");
  return {png_name, json_name};
}

std::vector<std::string> explain_report(Session& s, const std::string& path, const std::string& stem) {
  CXR_CHECK(s.text_model, path, ": this run has no text encoder (", runs::RunPaths(s.config.run_dir).config(),
            " has no text_model), so reports cannot be explained");
  const interpret::TextModel& tm = *s.text_model;
  // What the trainer feeds the text encoder (train/text_side.cpp): the Findings/Impression/...
  // sections of the report (METHODS.md §1), unless --no-extract.
  const std::string raw = read_file(path, "report");
  const text::Extraction extraction =
      s.opt.no_extract ? text::Extraction{raw, text::ExtractionSource::kWholeReport} : text::extract_report_text(raw);
  const std::string& report = extraction.text;
  interpret::TokenWeights w;
  try {
    w = interpret::cls_attention(*tm.bert, *tm.tokenizer, report, tm.max_seq_length, s.opt.attention_layer);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  json j = {{"input", path},
            {"text", report},
            {"text_source", s.opt.no_extract ? "file" : text::extraction_source_name(extraction.source)},
            {"layer", w.layer},
            {"words", w.words},
            {"weights", w.weights},
            {"spans", w.spans},
            {"num_pieces", w.num_pieces}};
  std::string prediction_html;
  if (tm.classifier) {
    NoGradGuard no_grad;
    text::BertBatch b = text::collate({tm.tokenizer->features(report, tm.max_seq_length, /*pad=*/false)});
    Tensor logits =
        tm.classifier
            ->forward(tm.bert->forward(b.input_ids.to(s.device), b.attention_mask.to(s.device), b.token_type_ids.to(s.device))
                          .pooled_output)
            .select(0, 0)
            .to(Device::CPU);
    Tensor probs = interpret::probabilities_from_logits(logits, s.config.task);
    const std::string kind = interpret::probability_kind(logits.size(0), s.config.task);
    const int64_t predicted = argmax(logits, 0).item<int64_t>();
    j["logits"] = numbers(logits);
    j["probabilities"] = numbers(probs);
    j["probability_kind"] = kind;
    j["predicted"] = predicted;
    std::ostringstream p;
    p << "<p>Text head (" << kind << "): ";
    const std::vector<double> pv = probs.to_vector();
    for (size_t c = 0; c < pv.size(); ++c) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "class %zu: %.3f", c, pv[c]);
      const bool is_predicted = static_cast<int64_t>(c) == predicted;
      p << (c ? ", " : "") << (is_predicted ? "<b>" : "") << buf << (is_predicted ? "</b>" : "");
    }
    p << "</p>\n";
    prediction_html = p.str();
  }
  const std::string title = fs::path(path).filename().string();
  const std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + interpret::html_escape(title) +
      " — [CLS] attention</title></head>\n<body>\n" + interpret::highlighted_report_html(w, title) + prediction_html +
      "<p style=\"color: #666; font-size: small\">Text: " +
      (s.opt.no_extract ? std::string("the whole file")
                        : std::string("the report's ") + text::extraction_source_name(extraction.source) +
                              " text, as the model is trained on it") +
      ". Highlight: the text encoder's layer " + std::to_string(w.layer) +
      " attention from [CLS], averaged over heads and summed over word pieces (attention is not attribution; see "
      "docs/INTERPRETATION.md).</p>\n</body></html>\n";
  const std::string html_name = stem + runs::RunPaths::kAttentionHtmlSuffix,
                    json_name = stem + runs::RunPaths::kAttentionJsonSuffix;
  write_file_atomic((fs::path(s.opt.out) / html_name).string(), html);
  write_file_atomic((fs::path(s.opt.out) / json_name).string(), dump(j) + "\n");
  return {html_name, json_name};
}

int run_explain(const ExplainOptions& opt_in) {
  ExplainOptions opt = opt_in;
  if (opt.out.empty()) opt.out = runs::RunPaths(opt.checkpoint).explain_dir();
  Session s{opt, {}, nullptr, nullptr, Device::CPU};
  bool any_image = false, any_report = false;
  for (const auto& in : opt.inputs) {
    any_image = any_image || kind_of(in) == InputKind::Image;
    any_report = any_report || kind_of(in) == InputKind::Report;
  }
  try {
    s.device = cuda::select_device(opt.device, "explain");
    s.config = runs::read_run_config(opt.checkpoint);
    if (any_image) {
      // Arguments first (from config.json alone), then the model.
      const auto num_layers = static_cast<int64_t>(nn::resnet_config(s.config.arch).layer_channels.size());
      bool layer_ok = false;
      for (int64_t k = 1; k <= num_layers; ++k) layer_ok = layer_ok || opt.layer == "layer" + std::to_string(k);
      CXR_CHECK(layer_ok, "--layer '", opt.layer, "': ", s.config.arch, " has layer1..layer", num_layers);
      CXR_CHECK(opt.target >= -1 && opt.target < s.config.num_outputs, "--target ", opt.target,
                " out of range: the image model has ", s.config.num_outputs, " outputs (0..", s.config.num_outputs - 1,
                "; -1 = the arg max)");
      s.image_model = interpret::load_image_model(opt.checkpoint, opt.weights);
      s.image_model->to(s.device);
    }
    if (any_report && s.config.has_text_model) {
      s.text_model = std::make_unique<interpret::TextModel>(interpret::load_text_model(opt.checkpoint, opt.weights));
      s.text_model->bert->to(s.device);
      if (s.text_model->classifier) s.text_model->classifier->to(s.device);
      const int64_t layers = s.text_model->bert->config.num_hidden_layers;
      CXR_CHECK(opt.attention_layer >= -layers && opt.attention_layer < layers, "--attention-layer ",
                opt.attention_layer, " out of range: the text encoder has ", layers, " layers (0..", layers - 1,
                ", or -1..-", layers, " from the end)");
    }
    std::error_code ec;
    fs::create_directories(opt.out, ec);
    CXR_CHECK(!ec && fs::is_directory(opt.out), opt.out, ": cannot create the output directory",
              ec ? ": " + ec.message() : std::string());
  } catch (const Error& e) {
    std::fprintf(stderr, "cxr explain: error: %s\n", e.what());
    return kExitFatal;
  }

  int failures = 0;
  std::set<std::string> used_names;  // output names already written by this run: no silent overwrite
  for (const std::string& path : opt.inputs) {
    try {
      const InputKind kind = kind_of(path);
      CXR_CHECK(kind != InputKind::Unknown, path,
                ": unknown input type (expected an image .png/.jpg/.jpeg or a report .txt)");
      const std::string stem = fs::path(path).stem().string();
      const std::string key = stem + (kind == InputKind::Image ? "_gradcam" : "_attention");
      CXR_CHECK(used_names.insert(key).second, path, ": another input already wrote ", key,
                ".* in this run (inputs need distinct file names)");
      std::vector<std::string> outputs =
          kind == InputKind::Image ? explain_image(s, path, stem) : explain_report(s, path, stem);
      json line = {
          {"input", path}, {"kind", kind == InputKind::Image ? "image" : "report"}, {"outputs", json::array()}};
      for (const auto& o : outputs) line["outputs"].push_back((fs::path(opt.out) / o).string());
      std::fputs((dump(line) + "\n").c_str(), stdout);
      std::fflush(stdout);
    } catch (const Error& e) {
      ++failures;
      std::fflush(stdout);
      std::fprintf(stderr, "cxr explain: error: %s\n", e.what());
    }
  }
  if (failures) std::fprintf(stderr, "cxr explain: %d of %zu inputs failed\n", failures, opt.inputs.size());
  return failures ? kExitSomeInputsFailed : kExitOk;
}

CommandRun setup_explain(CLI::App& sub) {
  auto opt = std::make_shared<ExplainOptions>();
  sub.add_option("--checkpoint", opt->checkpoint,
                 "run directory (docs/RUNS.md): config.json and model.safetensors with image_model.* / text_model.*")
      ->required();
  sub.add_option("--weights", opt->weights,
                 "weights file in the run directory (best.safetensors: the best epoch), or a path containing '/'")
      ->capture_default_str();
  sub.add_option("--layer", opt->layer,
                 "ResNet layer for Grad-CAM: layer1..layerL (layer6: the last 4x4 map at 256 input; layer5: the "
                 "8x8 local features)")
      ->capture_default_str();
  sub.add_option("--target", opt->target, "class to explain in images (-1: the predicted class)")
      ->capture_default_str();
  sub.add_option("--attention-layer", opt->attention_layer,
                 "text encoder layer whose [CLS] attention is shown (0-based; -1: the last)")
      ->capture_default_str();
  sub.add_flag("--no-extract", opt->no_extract,
               "give the text encoder the whole .txt file instead of its Findings/Impression sections (what "
               "training feeds it)");
  sub.add_option("--out", opt->out, "output directory (default: RUN_DIR/explain)");
  add_device_option(sub, opt->device);
  sub.add_option("inputs", opt->inputs, "images (.png, .jpg, .jpeg) and reports (.txt, UTF-8)")->required();
  sub.footer(
      "Images: center-cropped and scaled as in evaluation, then Grad-CAM (Selvaraju et al. 2017) of the image model:\n"
      "  OUT/<stem>_gradcam.png (overlay on the image) and OUT/<stem>_gradcam.json (target, logits, probabilities,\n"
      "  the coarse cam).\n"
      "Reports: the Findings/Impression/Conclusion/Recommendation sections (as in training; --no-extract: the whole\n"
      "  file), then the text encoder's attention from [CLS], averaged over heads, summed over each word's pieces:\n"
      "  OUT/<stem>_attention.html (highlighted report; with the text head's prediction when the run has one) and\n"
      "  OUT/<stem>_attention.json. Needs text_model in config.json (joint and mi runs).\n"
      "stdout: one JSON line per input done. Method and caveats: docs/INTERPRETATION.md.\n"
      "Exit code: 0 ok; 1 some input failed (named on stderr, the others still done); 2 bad run directory,\n"
      "checkpoint or arguments (nothing done).");
  return [opt] { return run_explain(*opt); };
}

const CommandRegistration registration("explain", "Grad-CAM of images and [CLS] attention of reports for a trained run",
                                       setup_explain);

}  // namespace
}  // namespace cxr::apps
