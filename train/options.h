// options.h — every option of `cxr train`, with the reference value as its default (METHODS.md
// §5, §7, §8), and its JSON form (config.json's "options"). A value of -1 for epochs or
// batch_size means "the method's reference value" (resolve_defaults fills it in from the method's
// registration, method_registry.h, which also checks the options the method needs).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runs/run_config.h"

namespace cxr::train {

struct TrainOptions {
  // ---- what ----
  std::string method;  // a registered method (method_registry.h)
  std::string manifest, out;
  std::string task = "edema";  // edema | findings | a CheXpert name
  std::string arch = "resnet256_6_2_1";
  // ---- schedule ----
  int64_t epochs = -1;      // -1: the method's reference value
  int64_t batch_size = -1;  // -1: the method's reference value
  int64_t max_steps = 0;    // > 0: stop after this many steps (the epoch in progress is closed)
  double lr = 5e-4;         // Adam: image encoder, critics, VAE, fine-tuning
  double text_lr = 2e-5;    // AdamW: the text encoder (mi), everything (joint)
  double text_weight_decay = 0.1;
  double warmup = 0.1;      // fraction of the steps of the WarmupLinear schedule
  bool text_bias_correction = false;
  // ---- data ----
  std::vector<std::string> train_splits = {"train"};
  std::string val_split = "val", test_split = "test";
  double labeled_fraction = 1.0;  // keep the training labels of this fraction of patients
  std::string edema_labels;       // `cxr label edema` CSV: training edema labels from the reports
  std::string findings_labels;    // `cxr label findings` CSV: training CheXpert labels from the reports
  bool augment = true;
  int64_t resize = 0;  // > 0: resize the shorter edge to this before cropping (e.g. 128 for 256-pixel PNGs)
  int64_t workers = 2;
  // ---- text encoder (joint, mi) ----
  std::string text_init;  // a `cxr pretrain-text` directory: bert_config.json, vocab.txt, model.safetensors
  std::string bert_config, vocab;  // or a fresh encoder from a config and a vocabulary
  int64_t max_seq_length = runs::kDefaultMaxSeqLength;
  bool cased = false;
  // ---- joint ----
  std::string joint_mode = "supervised";  // supervised | semisupervised_phase1 | semisupervised_phase2
  std::string similarity = "dot";         // dot | cosine | l2
  // ---- mi ----
  std::string bound = "infonce";      // dv | infonce-seed | infonce
  std::string mi_level = "global";    // global | local | both
  std::string local_select = "max";   // max | sample-max | mean
  // ---- finetune / phase 2 ----
  std::string init;                 // the run directory to start from
  std::string encoder = "tuned";    // frozen | tuned
  // ---- vae ----
  int64_t latent_dim = 64;
  std::string vae_head = "classifier";  // classifier | regressor
  std::string likelihood = "bernoulli";  // bernoulli | gaussian
  double beta = 1.0;
  // ---- run ----
  uint64_t seed = 0;
  int threads = 0;  // 0: all cores
  std::string device = "cpu";  // cpu | cuda
  int64_t log_every = 10;
  int64_t bootstrap = 1000;
  bool resume = false;
  int progress = -1;  // -1 auto (a bar on a terminal), 0 plain lines, 1 bar
  bool explain = true;  // write Grad-CAM overlays for a few test images at the end
  // ---- data-parallel (docs/DISTRIBUTED.md) ----
  bool distributed = false;   // one rank of `mpirun -np N cxr train ... --distributed`
  bool sync_bn = false;       // batch-norm statistics of the global batch (default: each rank's own)
  double bucket_mb = 4;       // gradient bucket size (MiB) of the all-reduce
  double dist_timeout = 300;  // seconds without progress in a collective before the job is aborted
  int64_t world_size = 1;     // ranks of the run (set by the trainer; --batch-size is per rank)

  void resolve_defaults();  // the method's reference epochs and batch size for -1 values
  void validate() const;    // throws naming the bad option (the method's own checks included)
};

void to_json(nlohmann::json& j, const TrainOptions& o);
void from_json(const nlohmann::json& j, TrainOptions& o);

}  // namespace cxr::train
