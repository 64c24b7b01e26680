// task.cpp — see task.h.
#include "train/task.h"

#include <algorithm>

#include <cmath>
#include <fstream>

#include "eval/metrics.h"
#include "ops/ops.h"
#include "tensor/file_io.h"
#include "text/csv.h"

namespace cxr::train {

Task Task::parse(const std::string& name) {
  Task t;
  t.name = name;
  if (name == "edema") return t;
  if (name == "findings") {
    t.kind = TaskKind::Findings;
    return t;
  }
  if (name.starts_with("score:") && name.size() > 6) {
    t.kind = TaskKind::Score;
    t.column = name.substr(6);
    return t;
  }
  std::string known = "edema, findings, score:<column>";
  for (size_t i = 0; i < data::kChexpertNames.size(); ++i) {
    if (name == data::kChexpertNames[i]) {
      t.kind = TaskKind::Finding;
      t.finding = int(i);
      return t;
    }
    known += std::string(", ") + data::kChexpertNames[i];
  }
  fail("unknown task '", name, "' (expected one of: ", known, ")");
}

int64_t Task::num_outputs() const {
  switch (kind) {
    case TaskKind::Edema: return 4;
    case TaskKind::Finding: return 1;
    case TaskKind::Findings: return int64_t(data::kChexpertNames.size());
    case TaskKind::Score: return 1;
  }
  return 0;
}

static bool binary_label(int v) { return v == 0 || v == 1; }

double Task::score(const data::ManifestRow& row) const {
  auto it = row.extra.find(column);
  if (it == row.extra.end() || it->second.empty()) return NAN;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  return (end && *end == '\0' && std::isfinite(v)) ? v : NAN;
}

void Task::bind(const data::Manifest& manifest) {
  if (kind != TaskKind::Score) return;
  bool found = false;
  for (auto& c : manifest.extra_columns) found = found || c == column;
  CXR_CHECK(found, manifest.path, ": no column '", column, "' for task ", name);
  auto values = std::make_shared<std::vector<double>>();
  for (auto& row : manifest.rows) values->push_back(score(row));
  scores_ = values;
}

bool Task::labelled(const data::ManifestRow& row) const {
  switch (kind) {
    case TaskKind::Edema: return row.edema >= 0;
    case TaskKind::Finding: return binary_label(row.chexpert[size_t(finding)]);
    case TaskKind::Findings:
      for (int v : row.chexpert)
        if (binary_label(v)) return true;
      return false;
    case TaskKind::Score: return std::isfinite(score(row));
  }
  return false;
}

Task::Labels Task::labels(const data::Batch& batch) const {
  Labels out;
  const int64_t n = batch.size();
  if (kind == TaskKind::Edema) {
    out.target = batch.edema;
    for (int64_t i = 0; i < n; ++i) out.count += batch.edema.at({i}) >= 0;
    return out;
  }
  if (kind == TaskKind::Score) {
    CXR_CHECK(scores_ != nullptr, "task ", name, ": not bound to a manifest");
    std::vector<double> target(static_cast<size_t>(n)), mask(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const double v = scores_->at(size_t(batch.rows[size_t(i)]));
      mask[size_t(i)] = std::isfinite(v);
      target[size_t(i)] = std::isfinite(v) ? v : 0;
      out.count += std::isfinite(v);
    }
    out.target = from_vector(target, {n});
    out.mask = from_vector(mask, {n});
    return out;
  }
  const int64_t k = kind == TaskKind::Finding ? 1 : int64_t(data::kChexpertNames.size());
  std::vector<double> target(static_cast<size_t>(n * k)), mask(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      const int v = int(batch.chexpert.at({i, kind == TaskKind::Finding ? int64_t(finding) : j}));
      target[size_t(i * k + j)] = v == 1;
      mask[size_t(i * k + j)] = binary_label(v);
      out.count += binary_label(v);
    }
  const Shape shape = kind == TaskKind::Finding ? Shape{n} : Shape{n, k};
  out.target = from_vector(target, shape);
  out.mask = from_vector(mask, shape);
  return out;
}

Tensor Task::loss(const Tensor& logits, const data::Batch& batch) const {
  Labels l = labels(batch);
  if (l.count == 0) return Tensor();
  l.target = l.target.to(logits.device());  // the labels live on the host (move_batch_to)
  if (l.mask.defined()) l.mask = l.mask.to(logits.device());
  if (kind == TaskKind::Edema) return cross_entropy(logits, l.target, /*ignore_index=*/-1);
  if (kind == TaskKind::Score) {
    Tensor x = logits.reshape({-1});
    Tensor d = x - l.target.to(x.dtype());
    return sum(d * d * l.mask.to(x.dtype())) / double(l.count);
  }
  Tensor x = kind == TaskKind::Finding ? logits.reshape({-1}) : logits;
  Tensor per_entry = binary_cross_entropy_with_logits(x, l.target.to(x.dtype()), Reduction::None);
  return sum(per_entry * l.mask.to(x.dtype())) / double(l.count);
}

std::vector<std::vector<double>> Task::probabilities(const Tensor& logits) const {
  Tensor p = kind == TaskKind::Edema ? softmax(logits, 1) : kind == TaskKind::Score ? logits : sigmoid(logits);
  p = p.to(DType::Float64).contiguous();
  const int64_t n = p.size(0), k = p.size(1);
  std::vector<double> flat = p.to_vector();
  std::vector<std::vector<double>> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[size_t(i)].assign(flat.begin() + i * k, flat.begin() + (i + 1) * k);
  return rows;
}

void PredictionSet::add(const data::Batch& batch, const Tensor& logits) {
  std::vector<std::vector<double>> probs = task_.probabilities(logits);
  const Tensor scores = task_.kind == TaskKind::Score ? task_.labels(batch).target : Tensor();
  for (int64_t i = 0; i < batch.size(); ++i) {
    std::vector<double> labels;
    if (task_.kind == TaskKind::Edema) {
      labels = {batch.edema.at({i})};
    } else if (task_.kind == TaskKind::Finding) {
      labels = {batch.chexpert.at({i, int64_t(task_.finding)})};
    } else if (task_.kind == TaskKind::Score) {
      labels = {scores.at({i})};
    } else {
      for (int64_t j = 0; j < int64_t(data::kChexpertNames.size()); ++j) labels.push_back(batch.chexpert.at({i, j}));
    }
    rows_.push_back(i < int64_t(batch.rows.size()) ? batch.rows[size_t(i)] : -1);
    ids_.push_back(batch.ids[size_t(i)]);
    probs_.push_back(std::move(probs[size_t(i)]));
    labels_.push_back(std::move(labels));
  }
}

// Regression metrics of a score task, with the bootstrap of eval/bootstrap.h: mse, mae, pearson.
static nlohmann::json evaluate_scores(const std::vector<double>& pred, const std::vector<double>& y,
                                      const eval::BootstrapOptions& b) {
  const int64_t n = int64_t(y.size());
  auto metrics = [&](const std::vector<int32_t>& w) {
    double sw = 0, se = 0, ae = 0, mp = 0, my = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double d = pred[size_t(i)] - y[size_t(i)];
      sw += w[size_t(i)], se += w[size_t(i)] * d * d, ae += w[size_t(i)] * std::abs(d);
      mp += w[size_t(i)] * pred[size_t(i)], my += w[size_t(i)] * y[size_t(i)];
    }
    mp /= sw, my /= sw;
    double cov = 0, vp = 0, vy = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double dp = pred[size_t(i)] - mp, dy = y[size_t(i)] - my;
      cov += w[size_t(i)] * dp * dy, vp += w[size_t(i)] * dp * dp, vy += w[size_t(i)] * dy * dy;
    }
    const double r = (vp > 0 && vy > 0) ? cov / std::sqrt(vp * vy) : NAN;
    return std::vector<double>{se / sw, ae / sw, r};
  };
  std::vector<eval::MetricEstimate> est = eval::bootstrap_metrics(n, metrics, b);
  const char* names[3] = {"mse", "mae", "pearson"};
  nlohmann::json out = {{"kind", "score"}, {"n", n}};
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  for (int k = 0; k < 3; ++k)
    out["metrics"][names[k]] = {{"value", num(est[size_t(k)].value)}, {"ci_low", num(est[size_t(k)].ci_low)},
                                {"ci_high", num(est[size_t(k)].ci_high)}, {"replicates_used", est[size_t(k)].replicates_used}};
  out["bootstrap"] = {{"replicates", b.replicates}, {"level", b.level}, {"seed", b.seed}};
  return out;
}

nlohmann::json PredictionSet::evaluate(int64_t replicates, uint64_t seed) const {
  eval::BootstrapOptions b;
  b.replicates = replicates, b.seed = seed;
  nlohmann::json out;
  if (task_.kind == TaskKind::Edema) {
    std::vector<std::array<double, 4>> p;
    std::vector<int> y;
    for (size_t i = 0; i < ids_.size(); ++i) {
      if (labels_[i][0] < 0) continue;
      p.push_back({probs_[i][0], probs_[i][1], probs_[i][2], probs_[i][3]});
      y.push_back(int(labels_[i][0]));
    }
    CXR_CHECK(!y.empty(), "evaluation: no sample has an edema label");
    out = eval::evaluate_ordinal4(p, y, b);
  } else if (task_.kind == TaskKind::Finding) {
    std::vector<double> p;
    std::vector<int> y;
    for (size_t i = 0; i < ids_.size(); ++i) {
      if (!binary_label(int(labels_[i][0]))) continue;
      p.push_back(probs_[i][0]);
      y.push_back(int(labels_[i][0]));
    }
    CXR_CHECK(!y.empty(), "evaluation: no sample has a 0/1 label for ", task_.name);
    out = eval::evaluate_binary(p, y, b);
  } else if (task_.kind == TaskKind::Score) {
    std::vector<double> p, y;
    for (size_t i = 0; i < ids_.size(); ++i) p.push_back(probs_[i][0]), y.push_back(labels_[i][0]);
    CXR_CHECK(!y.empty(), "evaluation: no sample has a value for ", task_.name);
    out = evaluate_scores(p, y, b);
  } else {
    std::vector<std::string> names(data::kChexpertNames.begin(), data::kChexpertNames.end());
    std::vector<std::vector<int>> y;
    for (auto& l : labels_) y.emplace_back(l.begin(), l.end());
    out = eval::evaluate_findings(probs_, y, names, b);
  }
  out["task"] = task_.name;
  return out;
}

std::string PredictionSet::serialize() const {
  return nlohmann::json{{"rows", rows_}, {"ids", ids_}, {"probs", probs_}, {"labels", labels_}}.dump();
}

void PredictionSet::merge(const std::string& serialized) {
  const nlohmann::json j = nlohmann::json::parse(serialized, nullptr, false);
  CXR_CHECK(!j.is_discarded() && j.contains("rows") && j.contains("ids") && j.contains("probs") && j.contains("labels"),
            "PredictionSet::merge: not a serialized prediction set");
  auto rows = j["rows"].get<std::vector<int64_t>>();
  auto ids = j["ids"].get<std::vector<std::string>>();
  auto probs = j["probs"].get<std::vector<std::vector<double>>>();
  auto labels = j["labels"].get<std::vector<std::vector<double>>>();
  CXR_CHECK(ids.size() == rows.size() && probs.size() == rows.size() && labels.size() == rows.size(),
            "PredictionSet::merge: fields of different lengths");
  rows_.insert(rows_.end(), rows.begin(), rows.end());
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  probs_.insert(probs_.end(), probs.begin(), probs.end());
  labels_.insert(labels_.end(), labels.begin(), labels.end());
}

void PredictionSet::sort_by_row() {
  std::vector<size_t> order(rows_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows_[a] < rows_[b]; });
  auto permuted = [&](auto& v) {
    std::remove_reference_t<decltype(v)> out;
    out.reserve(v.size());
    for (size_t i : order) out.push_back(std::move(v[i]));
    v = std::move(out);
  };
  permuted(rows_), permuted(ids_), permuted(probs_), permuted(labels_);
}

void PredictionSet::write_csv(const std::string& path) const {
  std::string text = "id";
  if (task_.kind == TaskKind::Findings) {
    for (auto* n : data::kChexpertNames) text += std::string(",label_") + n;
    for (auto* n : data::kChexpertNames) text += std::string(",p_") + n;
  } else if (task_.kind == TaskKind::Edema) {
    text += ",label,p0,p1,p2,p3";
  } else if (task_.kind == TaskKind::Score) {
    text += ",value,prediction";
  } else {
    text += ",label,p";
  }
  text += "\n";
  char buf[32];
  for (size_t i = 0; i < ids_.size(); ++i) {
    text += text::csv_field(ids_[i]);
    for (double v : labels_[i]) {
      std::snprintf(buf, sizeof buf, ",%.6g", v);
      text += buf;
    }
    for (double p : probs_[i]) {
      std::snprintf(buf, sizeof buf, ",%.6g", p);
      text += buf;
    }
    text += "\n";
  }
  write_file_atomic(path, text);
}

std::string headline_metric(const Task& task) {
  switch (task.kind) {
    case TaskKind::Edema: return "auc_0v123";
    case TaskKind::Finding: return "auc";
    case TaskKind::Findings: return "auc_mean";
    case TaskKind::Score: return "pearson";
  }
  return "";
}

}  // namespace cxr::train
