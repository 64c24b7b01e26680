// train.cpp — `cxr train --method M --manifest CSV --out DIR [options]`: the research methods of
// METHODS.md (image-only, semi-supervised VAE, joint image–text, image–text mutual information,
// fine-tuning) through one training loop (train/trainer.h); the methods and their reference
// schedules come from their registrations (train/method_registry.h). Every hyper-parameter is a flag
// whose default is the reference value; docs/TRAINING.md explains each method, docs/RUNS.md the output.
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "apps/command.h"
#include "train/method_registry.h"
#include "train/trainer.h"

namespace cxr::apps {
namespace {

std::string joined(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

// "image/joint/finetune 300, vae/mi 100": the methods grouped by their value of `field`.
std::string defaults_by_method(int64_t train::MethodSpec::*field) {
  std::vector<int64_t> values;
  std::map<int64_t, std::vector<std::string>> methods;
  for (const auto& m : train::registered_methods()) {
    if (!methods.count(m.*field)) values.push_back(m.*field);
    methods[m.*field].push_back(m.name);
  }
  std::vector<std::string> groups;
  for (int64_t v : values) groups.push_back(joined(methods[v], "/") + " " + std::to_string(v));
  return joined(groups, ", ");
}

// One line per registered method: its name and what it trains.
std::string method_list() {
  std::string out = "Methods (docs/TRAINING.md):\n";
  for (const auto& m : train::registered_methods())
    out += "  " + m.name + std::string(m.name.size() < 10 ? 10 - m.name.size() : 1, ' ') + m.summary + "\n";
  return out;
}

CommandRun setup_train(CLI::App& sub) {
  auto o = std::make_shared<train::TrainOptions>();
  const std::vector<std::string> methods = train::method_names();
  sub.description("train a model: " + joined(methods, " | ") + " (docs/TRAINING.md)");
  sub.footer(
      method_list() +
      "Examples:\n"
      "  cxr train --method image --manifest phantoms/manifest.csv --out runs/image --arch resnet128_6_2_1 --epochs 5\n"
      "  cxr train --method mi --manifest M.csv --text-init runs/bert --out runs/mi --bound dv --mi-level local\n"
      "  cxr train --method finetune --init runs/mi --encoder frozen --manifest M.csv --out runs/mi-frozen\n"
      "  mpirun -np 2 cxr train --method image --manifest M.csv --out runs/image --batch-size 32 --distributed\n"
      "Outputs (docs/RUNS.md): config.json, model.safetensors, metrics.jsonl, state/ (for --resume),\n"
      "eval-<split>.json and predictions-<split>.csv for models with a classifier.");
  auto* what = "What to train";
  sub.add_option("--method", o->method, joined(methods, " | "))->required()->group(what)->check(CLI::IsMember(methods));
  sub.add_option("--manifest", o->manifest, "the dataset manifest (docs/DATA-PIPELINE.md)")->required()->group(what)
      ->check(CLI::ExistingFile);
  sub.add_option("--out", o->out, "the run directory to write (or to resume with --resume)")->required()->group(what);
  sub.add_option("--task", o->task, "edema (4 severity classes) | findings (all 14 CheXpert findings) | one finding, e.g. Cardiomegaly")
      ->capture_default_str()->group(what);
  sub.add_option("--arch", o->arch, "image encoder: resnet256_6_2_1, resnet512_6_2_1, resnet1024_7_2_1, resnet2048_7_2_1, resnet128_6_2_1 (small)")
      ->capture_default_str()->group(what);

  auto* sched = "Optimization";
  sub.add_option("--epochs", o->epochs, "epochs (default: " + defaults_by_method(&train::MethodSpec::default_epochs) + ")")
      ->group(sched);
  sub.add_option("--batch-size", o->batch_size,
                 "batch size (default: " + defaults_by_method(&train::MethodSpec::default_batch_size) + ")")
      ->group(sched);
  sub.add_option("--max-steps", o->max_steps, "stop after this many steps (0: no limit)")->capture_default_str()->group(sched);
  sub.add_option("--lr", o->lr, "Adam learning rate: image encoder, critics, VAE, fine-tuning")->capture_default_str()->group(sched);
  sub.add_option("--text-lr", o->text_lr, "AdamW learning rate: text encoder (mi); all parameters (joint)")->capture_default_str()->group(sched);
  sub.add_option("--text-weight-decay", o->text_weight_decay, "AdamW decoupled weight decay (not on bias/LayerNorm.weight)")
      ->capture_default_str()->group(sched);
  sub.add_option("--warmup", o->warmup, "fraction of the steps for the WarmupLinear rise")->capture_default_str()->group(sched);
  sub.add_flag("--text-bias-correction", o->text_bias_correction, "Adam bias correction in the text AdamW (off in the reference)")
      ->group(sched);

  auto* data = "Data";
  sub.add_option("--train-splits", o->train_splits, "manifest splits to train on (e.g. train, or fold1 fold2 ...)")
      ->capture_default_str()->group(data);
  sub.add_option("--val-split", o->val_split, "split validated after every epoch (if it has rows)")->capture_default_str()->group(data);
  sub.add_option("--test-split", o->test_split, "split evaluated at the end, with bootstrap CIs")->capture_default_str()->group(data);
  sub.add_option("--labeled-fraction", o->labeled_fraction, "keep the training labels of this fraction of patients (the rest are unlabelled)")
      ->capture_default_str()->group(data);
  sub.add_option("--edema-labels", o->edema_labels, "training edema labels from `cxr label edema` (report, label columns)")
      ->check(CLI::ExistingFile)->group(data);
  sub.add_option("--findings-labels", o->findings_labels, "training CheXpert labels from `cxr label findings`")
      ->check(CLI::ExistingFile)->group(data);
  sub.add_flag("!--no-augment", o->augment, "no training augmentation (the evaluation transform instead)")->group(data);
  sub.add_option("--resize", o->resize, "resize the shorter edge to this before cropping (0: crop only, as the reference)")
      ->capture_default_str()->group(data);
  sub.add_option("--workers", o->workers, "image loading threads")->capture_default_str()->group(data);

  auto* text = "Text encoder (joint, mi)";
  sub.add_option("--text-init", o->text_init, "a `cxr pretrain-text` directory (bert_config.json, vocab.txt, model.safetensors)")
      ->group(text);
  sub.add_option("--bert-config", o->bert_config, "or: a fresh encoder from this bert_config.json ...")->group(text);
  sub.add_option("--vocab", o->vocab, "... and this vocabulary")->group(text);
  sub.add_option("--max-seq-length", o->max_seq_length, "tokens per report, [CLS] and [SEP] included")->capture_default_str()->group(text);
  sub.add_flag("--cased", o->cased, "do not lower-case the reports")->group(text);

  auto* joint = "Joint model (METHODS.md §7)";
  sub.add_option("--joint-mode", o->joint_mode, "supervised | semisupervised_phase1 | semisupervised_phase2 (needs --init)")
      ->capture_default_str()->group(joint);
  sub.add_option("--similarity", o->similarity, "ranking similarity: dot | cosine | l2")->capture_default_str()->group(joint);

  auto* mi = "Mutual information (METHODS.md §8)";
  sub.add_option("--bound", o->bound, "dv (MINE) | infonce-seed (the reference code's) | infonce (CPC)")->capture_default_str()->group(mi);
  sub.add_option("--mi-level", o->mi_level, "global | local | both")->capture_default_str()->group(mi);
  sub.add_option("--local-select", o->local_select, "local MI location rule: max (per batch, the paper's) | sample-max | mean")
      ->capture_default_str()->group(mi);

  auto* ft = "Fine-tuning";
  sub.add_option("--init", o->init, "the mi or joint run to start from (its image_model.*, fc1 dropped)")->group(ft);
  sub.add_option("--encoder", o->encoder, "frozen (only layer6 and fc1 train) | tuned (all layers)")->capture_default_str()->group(ft);

  auto* vae = "Semi-supervised VAE (METHODS.md §5)";
  sub.add_option("--latent-dim", o->latent_dim, "latent dimension")->capture_default_str()->group(vae);
  sub.add_option("--vae-head", o->vae_head, "classifier (4-way softmax) | regressor (Gaussian on y)")->capture_default_str()->group(vae);
  sub.add_option("--likelihood", o->likelihood, "bernoulli | gaussian")->capture_default_str()->group(vae);
  sub.add_option("--beta", o->beta, "KL weight")->capture_default_str()->group(vae);

  auto* runopts = "Run";
  sub.add_option("--seed", o->seed, "seed of every random choice (a CPU run is reproducible bit for bit)")->capture_default_str()->group(runopts);
  sub.add_option("--threads", o->threads, "CPU threads (0: all cores; results do not depend on it)")->capture_default_str()->group(runopts);
  add_device_option(sub, o->device, runopts);
  sub.add_option("--log-every", o->log_every, "steps per metrics.jsonl line")->capture_default_str()->group(runopts);
  sub.add_option("--bootstrap", o->bootstrap, "bootstrap replicates of the final evaluation's CIs")->capture_default_str()->group(runopts);
  sub.add_flag("--resume", o->resume, "continue the run in --out from its last completed epoch (same options)")->group(runopts);
  sub.add_option("--progress", o->progress, "-1 auto (a bar on a terminal), 0 plain lines, 1 bar")->capture_default_str()->group(runopts);

  auto* dp = "Data-parallel (mpirun -np N cxr train ... --distributed; docs/DISTRIBUTED.md)";
  sub.add_flag("--distributed", o->distributed,
               "this process is one rank of an MPI job: its shard of the training set, gradients averaged over the "
               "ranks, rank 0 writes; --batch-size is per rank")
      ->group(dp);
  sub.add_flag("--sync-bn", o->sync_bn, "batch-norm statistics of the global batch (default: each rank's own, as DDP)")
      ->group(dp);
  sub.add_option("--bucket-mb", o->bucket_mb, "gradient all-reduce bucket size in MiB")->capture_default_str()->group(dp);
  sub.add_option("--dist-timeout", o->dist_timeout,
                 "seconds a collective may make no progress (a dead or hung rank) before the job is aborted")
      ->capture_default_str()->group(dp);

  return [o]() {
    nlohmann::json test = train::run_training(*o);
    if (!test.is_null()) {
      nlohmann::json summary = {{"run", o->out}, {"split", test.value("split", "")}, {"task", test.value("task", "")}};
      for (auto& [name, m] : test["metrics"].items()) summary["metrics"][name] = m["value"];
      std::printf("%s\n", summary.dump().c_str());
    }
    return kExitOk;
  };
}

// (setup_train names the methods in the description: the registry is complete only once main() runs.)
CommandRegistration train_registration("train", "train a model (docs/TRAINING.md)", setup_train);

}  // namespace
}  // namespace cxr::apps
