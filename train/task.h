// task.h — what a model is trained and evaluated to predict, and the loss and probabilities that
// go with it:
//   edema        4 classes (severity 0..3, METHODS.md §1); logits (N, 4), cross-entropy; rows with
//                label -1 are unlabelled
//   <Finding>    one CheXpert finding (e.g. "Cardiomegaly"); one logit (N, 1), BCE with logits on
//                labels {0, 1}; -1 (uncertain) and -2 (absent) are dropped, as the reference
//   findings     all 14 CheXpert findings at once (cxrlab's cheaper variant of training one model per
//                finding): logits (N, 14), BCE averaged over the labels in {0, 1} only
//   score:<col>  a numeric manifest column (e.g. covid-cxr's opacity, geographic_extent): one
//                output, mean squared error; rows with an empty or non-numeric value are unlabelled
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/manifest.h"
#include "tensor/tensor.h"

namespace cxr::train {

enum class TaskKind { Edema, Finding, Findings, Score };

struct Task {
  TaskKind kind = TaskKind::Edema;
  std::string name = "edema";  // "edema", "findings" or a CheXpert name
  int finding = -1;            // index into data::kChexpertNames for TaskKind::Finding
  std::string column;          // the manifest column of TaskKind::Score

  static Task parse(const std::string& name);  // throws listing the valid names
  int64_t num_outputs() const;
  // Does this manifest row carry a usable label for the task?
  bool labelled(const data::ManifestRow& row) const;
  // Score tasks read their targets through the batch's row indices: bind the manifest the batches
  // come from (checks that the column exists). A no-op for the other tasks.
  void bind(const data::Manifest& manifest);
  // The score of a row, NaN when it has none.
  double score(const data::ManifestRow& row) const;
  // Labels of a batch: edema (N) int64 with -1 unlabelled; Finding (N) float 0/1 with a (N) mask;
  // Findings (N, 14) float 0/1 with a (N, 14) mask; Score (N) float with a (N) mask.
  struct Labels {
    Tensor target, mask;
    int64_t count = 0;  // labelled entries
  };
  Labels labels(const data::Batch& batch) const;
  // The training loss of logits against the batch's labels (0-dim); undefined when the batch has no
  // labelled entry.
  Tensor loss(const Tensor& logits, const data::Batch& batch) const;

 private:
  std::shared_ptr<const std::vector<double>> scores_;  // per manifest row (Score tasks, after bind)

 public:
  // Probabilities from logits: softmax (edema) or sigmoid (findings), as float64 rows; for a score,
  // the predicted value itself.
  std::vector<std::vector<double>> probabilities(const Tensor& logits) const;
};

// Collects predictions over batches, then computes the metrics JSON of docs/RUNS.md.
class PredictionSet {
 public:
  explicit PredictionSet(Task task) : task_(std::move(task)) {}
  void add(const data::Batch& batch, const Tensor& logits);
  int64_t size() const { return int64_t(ids_.size()); }
  // replicates = 0: point estimates only (the per-epoch validation).
  nlohmann::json evaluate(int64_t bootstrap_replicates, uint64_t seed) const;
  // One CSV line per sample: id, label(s), probabilities.
  void write_csv(const std::string& path) const;
  // Data-parallel evaluation (docs/DISTRIBUTED.md): each rank predicts its shard, serializes it
  // (JSON; doubles round-trip exactly), rank 0 merges the shards and puts the samples back in
  // manifest row order, the order of a single process's evaluation.
  std::string serialize() const;
  void merge(const std::string& serialized);
  void sort_by_row();

 private:
  Task task_;
  std::vector<int64_t> rows_;  // manifest row of each sample
  std::vector<std::string> ids_;
  std::vector<std::vector<double>> probs_;
  std::vector<std::vector<double>> labels_;  // edema: {label}; finding: {label}; findings: 14 values; score: {value}
};

// The headline metric of a task, used to pick the best epoch: auc_0v123 (edema), auc (a finding),
// auc_mean (findings), pearson (a score).
std::string headline_metric(const Task& task);

}  // namespace cxr::train
