// test_methods.cpp — each research method learns (docs/TRAINING.md): trained for a few hundred
// steps on a small phantom set through train::run_training, the held-out performance must rise far
// above chance (AUC 0.5). The text encoder is a tiny fresh BERT on a vocabulary learned from the
// phantom reports (fresh for the joint model, masked-LM pretrained for MI), so nothing but the
// phantoms is needed.
#include <filesystem>

#include "runs/run_dir.h"
#include "train/trainer.h"
#include "train_testing.h"

using namespace cxr;
using namespace cxr::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// vocab.txt from the phantom reports and a 2-layer, 64-wide BERT config for it.
struct TinyText {
  std::string vocab, config;
};
TinyText tiny_text(const std::string& data, const std::string& dir) {
  TinyText t{dir + "/vocab.txt", dir + "/bert_config.json"};
  CliRun r = run_cxr({"vocab", "--size", "400", "--out", t.vocab, data + "/reports"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  int64_t lines = 0;
  for (char c : read_text(t.vocab)) lines += c == '\n';
  json config = {{"vocab_size", lines},        {"hidden_size", 64},          {"num_hidden_layers", 2},
                 {"num_attention_heads", 2},   {"intermediate_size", 128},   {"max_position_embeddings", 128}};
  std::ofstream(t.config) << config.dump();
  return t;
}

// A 2-layer, 64-wide BERT pretrained by masked-LM on the phantom reports (`cxr pretrain-text`),
// cached for all test processes: the MI methods need a text encoder whose features already say
// something about the report, as the reference's ClinicalBERT does.
std::string pretrained_tiny_bert(const std::string& data) {
  return cached_directory("cxr_tiny_bert_" + fs::path(data).filename().string(), "model.safetensors",
                          [&](const std::string& tmp) {
                            fs::create_directories(tmp);
                            CliRun v = run_cxr({"vocab", "--size", "400", "--out", tmp + "/vocab.txt", data + "/reports"});
                            REQUIRE_MESSAGE(v.exit_code == 0, v.err);
                            CliRun r = run_cxr({"pretrain-text", "--vocab", tmp + "/vocab.txt", "--out", tmp, "--layers", "2",
                                                "--hidden", "64", "--heads", "2", "--ffn", "128", "--max-position", "128",
                                                "--max-seq-length", "96", "--steps", "400", "--lr", "3e-3",
                                                "--batch-size", "16", "--log-every", "1000", data + "/reports"});
                            REQUIRE_MESSAGE(r.exit_code == 0, r.err);
                          });
}

// Mean of a loss term over the first and the last tenth of a run's steps (one log line per step).
std::pair<double, double> first_last(const std::string& run, const std::string& part) {
  std::vector<double> v;
  for (auto& e : read_jsonl(run + "/metrics.jsonl"))
    if (e["event"] == "step") v.push_back(part.empty() ? e["loss"].get<double>() : e["parts"][part].get<double>());
  const size_t k = std::max<size_t>(3, v.size() / 10);
  REQUIRE(v.size() >= 2 * k);
  double a = 0, b = 0;
  for (size_t i = 0; i < k; ++i) a += v[i], b += v[v.size() - 1 - i];
  return {a / double(k), b / double(k)};
}

}  // namespace

TEST_CASE("methods: joint image-text model (ranking + cross-entropy) learns edema severity") {
  if (skip_learning_test("joint learning")) return;
  const std::string data = phantom_dataset(400, 7), dir = fresh_temp_dir("methods_joint");
  TinyText text = tiny_text(data, dir);
  train::TrainOptions o = phantom_run("joint", data, dir + "/run");
  o.bert_config = text.config, o.vocab = text.vocab, o.max_seq_length = 96;
  o.batch_size = 8, o.max_steps = 250;
  o.text_lr = 5e-4;  // the reference's 2e-5 is for a pretrained BERT; this one starts from scratch
  json test = train::run_training(o);
  MESSAGE("joint: test AUCs 0v123 ", metric_value(test, "auc_0v123"), ", 01v23 ", metric_value(test, "auc_01v23"), ", 012v3 ",
          metric_value(test, "auc_012v3"));
  CHECK(metric_value(test, "auc_01v23") > 0.7);
  CHECK(metric_value(test, "auc_012v3") > 0.7);
  auto [first, last] = first_last(o.out, "rank_image");
  CHECK(last < first);
  fs::remove_all(dir);
}

TEST_CASE("methods: global MI pretraining raises the MI estimate, and frozen fine-tuning from it learns") {
  if (skip_learning_test("MI learning")) return;
  const std::string data = phantom_dataset(400, 7), dir = fresh_temp_dir("methods_mi");
  train::TrainOptions mi = phantom_run("mi", data, dir + "/mi");
  mi.text_init = pretrained_tiny_bert(data), mi.max_seq_length = 96;
  // Short runs learn without augmentation; with it the MI estimate barely moves in 300 steps.
  mi.bound = "dv", mi.max_steps = 300, mi.augment = false, mi.batch_size = 8;  // the reference's MI batch
  train::run_training(mi);
  // The loss is -I_DV: the estimate (its negative) must grow well above 0 nats.
  auto [first, last] = first_last(mi.out, "global_mi_loss");
  MESSAGE("global MI (DV) loss: first steps ", first, ", last steps ", last);
  CHECK(last < first - 0.2);
  CHECK(-last > 0.2);

  train::TrainOptions ft = phantom_run("finetune", data, dir + "/frozen");
  ft.init = mi.out, ft.encoder = "frozen", ft.batch_size = 16, ft.max_steps = 150, ft.augment = false;
  json test = train::run_training(ft);
  MESSAGE("MI-pretrained, frozen: test AUCs 0v123 ", metric_value(test, "auc_0v123"), ", 01v23 ", metric_value(test, "auc_01v23"),
          ", 012v3 ", metric_value(test, "auc_012v3"));
  CHECK(metric_value(test, "auc_01v23") > 0.75);
  CHECK(metric_value(test, "auc_012v3") > 0.8);
  fs::remove_all(dir);
}

TEST_CASE("methods: local MI pretraining (max selection) raises the local MI estimate") {
  if (skip_learning_test("local MI learning")) return;
  const std::string data = phantom_dataset(400, 7), dir = fresh_temp_dir("methods_local");
  train::TrainOptions mi = phantom_run("mi", data, dir + "/mi");
  mi.text_init = pretrained_tiny_bert(data), mi.max_seq_length = 64;
  // DV: measured to rise by 0.10-0.13 nats in 300 steps with the AVX2 and the AVX-512 kernels alike
  // (CPC rose by 0.15 with one and 0.02 with the other: at this budget local MI is noisy).
  mi.mi_level = "local", mi.bound = "dv", mi.max_steps = 300, mi.augment = false, mi.batch_size = 8;
  train::run_training(mi);
  auto [first, last] = first_last(mi.out, "local_mi_loss");
  MESSAGE("local MI (DV) loss: first steps ", first, ", last steps ", last);
  CHECK(last < first - 0.05);
  fs::remove_all(dir);
}

TEST_CASE("methods: the semi-supervised VAE learns edema severity from a labelled fifth") {
  if (skip_learning_test("VAE learning")) return;
  const std::string data = phantom_dataset(400, 7), dir = fresh_temp_dir("methods_vae");
  train::TrainOptions o = phantom_run("vae", data, dir + "/run");
  o.batch_size = 16, o.max_steps = 300, o.labeled_fraction = 0.2, o.latent_dim = 32, o.augment = false;
  json test = train::run_training(o);
  MESSAGE("VAE: test AUCs 0v123 ", metric_value(test, "auc_0v123"), ", 01v23 ", metric_value(test, "auc_01v23"), ", 012v3 ",
          metric_value(test, "auc_012v3"));
  CHECK(metric_value(test, "auc_012v3") > 0.8);
  auto [first, last] = first_last(o.out, "reconstruction");
  CHECK(last < first);
  fs::remove_all(dir);
}
