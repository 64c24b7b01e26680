// experiment.cpp — `cxr experiment --manifest CSV --text-init DIR --out DIR`: the grid of METHODS.md
// §12 (image-only; global and local MI x CPC and MINE x frozen and tuned), for edema severity and
// the CheXpert findings, at a chosen labelled fraction; writes DIR/table.md and DIR/table.json
// (train/experiment.h) and prints the markdown table.
#include <cstdio>
#include <memory>

#include "apps/command.h"
#include "train/experiment.h"

namespace cxr::apps {
namespace {

CommandRun setup_experiment(CLI::App& sub) {
  auto e = std::make_shared<train::ExperimentOptions>();
  train::TrainOptions& b = e->base;
  sub.footer(
      "Example (the demo's scale):\n"
      "  cxr experiment --manifest phantoms/manifest.csv --text-init runs/bert --out runs/experiment \\\n"
      "      --arch resnet128_6_2_1 --labeled-fraction 0.2 --pretrain-max-steps 300 --downstream-max-steps 200\n"
      "Runs already finished (runs/<name>/DONE) are kept, so an interrupted experiment continues.");
  sub.add_option("--manifest", e->manifest, "the dataset manifest")->required()->check(CLI::ExistingFile);
  sub.add_option("--out", e->out, "output directory: table.md, table.json, runs/")->required();
  sub.add_option("--tasks", e->tasks, "tasks: edema, findings, or CheXpert names")->capture_default_str();
  sub.add_option("--levels", e->levels, "MI levels: global, local")->capture_default_str();
  sub.add_option("--bounds", e->bounds, "MI bounds: infonce (CPC), dv (MINE), infonce-seed")->capture_default_str();
  sub.add_option("--encoders", e->encoders, "fine-tuning: frozen, tuned")->capture_default_str();
  sub.add_flag("!--no-image-only", e->image_only, "leave out the image-only baseline");
  sub.add_option("--pretrain-epochs", e->pretrain_epochs)->capture_default_str();
  sub.add_option("--pretrain-batch-size", e->pretrain_batch_size)->capture_default_str();
  sub.add_option("--pretrain-max-steps", e->pretrain_max_steps, "0: no limit")->capture_default_str();
  sub.add_option("--downstream-epochs", e->downstream_epochs)->capture_default_str();
  sub.add_option("--downstream-batch-size", e->downstream_batch_size)->capture_default_str();
  sub.add_option("--downstream-max-steps", e->downstream_max_steps, "0: no limit")->capture_default_str();
  sub.add_option("--arch", b.arch, "image encoder")->capture_default_str();
  sub.add_option("--labeled-fraction", b.labeled_fraction, "fraction of training patients whose labels are used downstream")
      ->capture_default_str();
  sub.add_option("--edema-labels", b.edema_labels, "training edema labels from `cxr label edema`")->check(CLI::ExistingFile);
  sub.add_option("--findings-labels", b.findings_labels, "training CheXpert labels from `cxr label findings`")
      ->check(CLI::ExistingFile);
  sub.add_option("--text-init", b.text_init, "the text encoder (`cxr pretrain-text` directory)")->required();
  sub.add_option("--max-seq-length", b.max_seq_length)->capture_default_str();
  sub.add_option("--local-select", b.local_select, "local MI location rule")->capture_default_str();
  sub.add_option("--resize", b.resize, "resize the shorter edge to this before cropping (0: crop only)")->capture_default_str();
  sub.add_flag("!--no-augment", b.augment, "no training augmentation in any run (short runs learn faster without it)");
  sub.add_option("--lr", b.lr)->capture_default_str();
  sub.add_option("--text-lr", b.text_lr)->capture_default_str();
  sub.add_option("--train-splits", b.train_splits)->capture_default_str();
  sub.add_option("--val-split", b.val_split)->capture_default_str();
  sub.add_option("--test-split", b.test_split)->capture_default_str();
  sub.add_option("--seed", b.seed)->capture_default_str();
  sub.add_option("--threads", b.threads)->capture_default_str();
  add_device_option(sub, b.device);
  sub.add_option("--bootstrap", b.bootstrap)->capture_default_str();
  sub.add_option("--progress", b.progress, "-1 auto, 0 plain lines, 1 bar")->capture_default_str();
  return [e]() {
    nlohmann::json table = train::run_experiment(*e);
    std::printf("%s", train::experiment_table_markdown(table).c_str());
    return kExitOk;
  };
}

CommandRegistration experiment_registration("experiment", "the METHODS.md §12 results table: MI pretraining, fine-tuning, baselines",
                                            setup_experiment);

}  // namespace
}  // namespace cxr::apps
