// metrics.cpp — edema (ordinal4), binary and multi-finding metric sets; JSON in the docs/RUNS.md
// eval schema. See metrics.h; definitions in docs/EVALUATION.md.
//
// Every metric set is one function of per-sample integer weights (bootstrap.h): weights of 1 give
// the point estimate, resample counts give a bootstrap replicate. AUCs use RankedScores (sorted
// once); confusion-matrix metrics are weighted counts.
#include "eval/metrics.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <sstream>

#include "tensor/error.h"

namespace cxr::eval {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kRowSumTolerance = 1e-3;

json number_or_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

json curve_json(const RocCurve& c) { return json{{"fpr", c.fpr}, {"tpr", c.tpr}}; }

// The ROC curve of a binary task, or null when it has fewer than two classes (the AUC is undefined).
json roc_or_null(const std::vector<double>& scores, const std::vector<int>& targets) {
  bool has_pos = false, has_neg = false;
  for (int t : targets) (t == 1 ? has_pos : has_neg) = true;
  if (!has_pos || !has_neg) return nullptr;
  return curve_json(roc_curve(scores, targets));
}

json metrics_json(const std::vector<std::string>& names, const std::vector<MetricEstimate>& estimates) {
  json out = json::object();
  for (size_t m = 0; m < names.size(); ++m) {
    const MetricEstimate& e = estimates[m];
    out[names[m]] = {{"value", number_or_null(e.value)},
                     {"ci_low", number_or_null(e.ci_low)},
                     {"ci_high", number_or_null(e.ci_high)},
                     {"replicates_used", e.replicates_used}};
  }
  return out;
}

json bootstrap_json(const BootstrapOptions& b) {
  return {{"replicates", b.replicates}, {"level", b.level}, {"seed", b.seed}};
}

std::string row_str(const double* row, size_t size) {
  std::ostringstream s;
  s << "[";
  for (size_t c = 0; c < size; ++c) s << (c ? ", " : "") << row[c];
  s << "]";
  return s.str();
}

bool is_probability(double p) { return std::isfinite(p) && p >= 0 && p <= 1; }

// sklearn precision/recall with zero_division='warn': a 0/0 ratio is 0.
double ratio_or_zero(int64_t num, int64_t den) { return den > 0 ? double(num) / double(den) : 0.0; }

// sklearn's F-score: 2 p r / (p + r), 0 when p + r = 0 (written in sklearn's operation order).
double f1_from(double precision, double recall) {
  double denom = precision + recall;
  if (denom == 0.0) denom = 1;
  return 2.0 * precision * recall / denom;
}

// ---- edema: 4 ordinal classes ----

constexpr int kClasses = 4;
constexpr std::array<const char*, 3> kCutNames = {"0v123", "01v23", "012v3"};  // cut k = 1, 2, 3
constexpr std::array<std::array<int, 2>, 6> kPairs = {{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}}};

// One binary task derived from the 4 classes: its samples, scores and targets.
struct BinaryTask {
  std::string name;
  std::vector<int32_t> ids;
  std::vector<double> scores;
  std::vector<int> targets;
  void add(int32_t id, double score, bool positive) {
    ids.push_back(id), scores.push_back(score), targets.push_back(positive);
  }
};

// sum_{c >= k} p_c, left to right.
double ordinal_score(const std::array<double, 4>& p, int k) {
  double s = p[size_t(k)];
  for (int c = k + 1; c < kClasses; ++c) s += p[size_t(c)];
  return s;
}

// p_b / (p_a + p_b); 0.5 (no preference) when both are exactly 0, where the ratio is undefined.
double pairwise_score(const std::array<double, 4>& p, int a, int b) {
  double denom = p[size_t(a)] + p[size_t(b)];
  return denom == 0 ? 0.5 : p[size_t(b)] / denom;
}

// The 13 AUC tasks in ordinal4_metric_names() order: ordinal cuts, pairs, one-vs-rest.
std::vector<BinaryTask> ordinal4_auc_tasks(const std::vector<std::array<double, 4>>& probs,
                                           const std::vector<int>& labels) {
  std::vector<BinaryTask> tasks;
  const int32_t n = int32_t(labels.size());
  for (int k = 1; k <= 3; ++k) {
    BinaryTask t{std::string("auc_") + kCutNames[size_t(k - 1)], {}, {}, {}};
    for (int32_t i = 0; i < n; ++i) t.add(i, ordinal_score(probs[i], k), labels[i] >= k);
    tasks.push_back(std::move(t));
  }
  for (auto [a, b] : kPairs) {
    BinaryTask t{"auc_" + std::to_string(a) + "v" + std::to_string(b), {}, {}, {}};
    for (int32_t i = 0; i < n; ++i)
      if (labels[i] == a || labels[i] == b) t.add(i, pairwise_score(probs[i], a, b), labels[i] == b);
    tasks.push_back(std::move(t));
  }
  for (int c = 0; c < kClasses; ++c) {
    BinaryTask t{"auc_ovr_" + std::to_string(c), {}, {}, {}};
    for (int32_t i = 0; i < n; ++i) t.add(i, probs[i][size_t(c)], labels[i] == c);
    tasks.push_back(std::move(t));
  }
  return tasks;
}

// sklearn f1_score(average='macro'): the mean F1 over the classes that occur in the labels or the
// predictions (unique_labels); a class never predicted has precision 0/0 -> 0, hence F1 0.
double macro_f1(const std::array<std::array<int64_t, 4>, 4>& confusion) {
  double sum = 0;
  int present = 0;
  for (int c = 0; c < kClasses; ++c) {
    int64_t true_sum = 0, pred_sum = 0;
    for (int o = 0; o < kClasses; ++o) true_sum += confusion[c][o], pred_sum += confusion[o][c];
    if (true_sum == 0 && pred_sum == 0) continue;
    int64_t tp = confusion[c][c];
    sum += f1_from(ratio_or_zero(tp, pred_sum), ratio_or_zero(tp, true_sum));
    ++present;
  }
  return present ? sum / present : kNaN;
}

int argmax4(const std::array<double, 4>& p) {  // first maximum, like numpy.argmax
  int best = 0;
  for (int c = 1; c < kClasses; ++c)
    if (p[size_t(c)] > p[size_t(best)]) best = c;
  return best;
}

void check_ordinal4_inputs(const std::vector<std::array<double, 4>>& probs, const std::vector<int>& labels) {
  CXR_CHECK(probs.size() == labels.size(), "evaluate_ordinal4: probs has ", probs.size(), " rows but labels has ",
            labels.size());
  CXR_CHECK(!labels.empty(), "evaluate_ordinal4: no samples");
  for (size_t i = 0; i < labels.size(); ++i) {
    CXR_CHECK(labels[i] >= 0 && labels[i] < kClasses, "evaluate_ordinal4: label ", i, " is ", labels[i],
              "; edema labels must be in 0..3");
    double sum = 0;
    for (double p : probs[i]) {
      CXR_CHECK(is_probability(p), "evaluate_ordinal4: probs row ", i,
                " is not a probability vector: ", row_str(probs[i].data(), 4));
      sum += p;
    }
    CXR_CHECK(std::fabs(sum - 1) <= kRowSumTolerance, "evaluate_ordinal4: probs row ", i, " sums to ", sum,
              ", not 1 (softmax probabilities expected, not logits): ", row_str(probs[i].data(), 4));
  }
}

// ---- several binary findings ----

void check_binary_probs(const char* op, const std::vector<double>& probs, const std::vector<int>& labels) {
  CXR_CHECK(probs.size() == labels.size(), op, ": probs has ", probs.size(), " entries but labels has ", labels.size());
  CXR_CHECK(!labels.empty(), op, ": no samples");
  for (size_t i = 0; i < labels.size(); ++i) {
    CXR_CHECK(labels[i] == 0 || labels[i] == 1, op, ": label ", i, " is ", labels[i],
              "; binary labels must be 0 or 1 (drop uncertain/missing labels first)");
    CXR_CHECK(is_probability(probs[i]), op, ": probability ", i, " is ", probs[i], "; expected a value in [0, 1]");
  }
}

}  // namespace

const std::vector<std::string>& ordinal4_metric_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = {"auc_0v123", "auc_01v23", "auc_012v3"};
    for (auto [a, b] : kPairs) n.push_back("auc_" + std::to_string(a) + "v" + std::to_string(b));
    for (int c = 0; c < kClasses; ++c) n.push_back("auc_ovr_" + std::to_string(c));
    n.insert(n.end(), {"macro_f1", "accuracy", "mse"});
    for (const char* cut : kCutNames)
      for (const char* what : {"precision_", "recall_", "accuracy_"}) n.push_back(std::string(what) + cut);
    return n;
  }();
  return names;
}

const std::vector<std::string>& binary_metric_names() {
  static const std::vector<std::string> names = {"auc", "accuracy", "f1"};
  return names;
}

json evaluate_ordinal4(const std::vector<std::array<double, 4>>& probs, const std::vector<int>& labels,
                       const BootstrapOptions& b) {
  check_ordinal4_inputs(probs, labels);
  const size_t n = labels.size();
  const std::vector<BinaryTask> tasks = ordinal4_auc_tasks(probs, labels);
  std::vector<RankedScores> ranked;
  for (const BinaryTask& t : tasks) ranked.emplace_back(t.scores, t.targets, t.ids);

  // Per-sample quantities of the confusion-matrix metrics.
  std::vector<int> predicted(n);
  std::vector<double> squared_error(n);                 // (sum_c c p_c - y)^2
  std::vector<std::array<uint8_t, 3>> cut_positive(n);  // sum_{c >= k} p_c > 0.5
  for (size_t i = 0; i < n; ++i) {
    predicted[i] = argmax4(probs[i]);
    double expected = 0;
    for (int c = 0; c < kClasses; ++c) expected += c * probs[i][size_t(c)];
    squared_error[i] = (expected - labels[i]) * (expected - labels[i]);
    for (int k = 1; k <= 3; ++k) cut_positive[i][size_t(k - 1)] = ordinal_score(probs[i], k) > 0.5;
  }

  auto metric_set = [&](const std::vector<int32_t>& w) {
    std::vector<double> out;
    out.reserve(ordinal4_metric_names().size());
    for (const RankedScores& r : ranked) out.push_back(r.auc(w));
    std::array<std::array<int64_t, 4>, 4> confusion{};
    std::array<std::array<int64_t, 4>, 3> cut{};  // per cut: tp, fp, fn, tn
    int64_t total = 0;
    double squared_error_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      if (w[i] == 0) continue;
      confusion[size_t(labels[i])][size_t(predicted[i])] += w[i];
      total += w[i];
      squared_error_sum += w[i] * squared_error[i];
      for (int k = 1; k <= 3; ++k) {
        bool truth = labels[i] >= k, guess = cut_positive[i][size_t(k - 1)];
        cut[size_t(k - 1)][truth ? (guess ? 0 : 2) : (guess ? 1 : 3)] += w[i];
      }
    }
    int64_t correct = 0;
    for (int c = 0; c < kClasses; ++c) correct += confusion[c][c];
    out.push_back(macro_f1(confusion));
    out.push_back(double(correct) / double(total));
    out.push_back(squared_error_sum / double(total));
    for (const auto& [tp, fp, fn, tn] : cut) {
      out.push_back(ratio_or_zero(tp, tp + fp));
      out.push_back(ratio_or_zero(tp, tp + fn));
      out.push_back(double(tp + tn) / double(total));
    }
    return out;
  };
  std::vector<MetricEstimate> estimates = bootstrap_metrics(int64_t(n), metric_set, b);

  json out;
  out["kind"] = "ordinal4";
  out["n"] = n;
  std::array<int64_t, 4> class_counts{};
  std::array<std::array<int64_t, 4>, 4> confusion{};
  for (size_t i = 0; i < n; ++i)
    ++class_counts[size_t(labels[i])], ++confusion[size_t(labels[i])][size_t(predicted[i])];
  out["class_counts"] = class_counts;
  out["metrics"] = metrics_json(ordinal4_metric_names(), estimates);
  out["roc"] = json::object();
  for (const BinaryTask& t : tasks) out["roc"][t.name] = roc_or_null(t.scores, t.targets);
  out["confusion"] = confusion;
  out["bootstrap"] = bootstrap_json(b);
  return out;
}

json evaluate_binary(const std::vector<double>& probs, const std::vector<int>& labels, const BootstrapOptions& b) {
  check_binary_probs("evaluate_binary", probs, labels);
  const size_t n = labels.size();
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = int32_t(i);
  const RankedScores ranked(probs, labels, ids);

  auto metric_set = [&](const std::vector<int32_t>& w) {
    int64_t tp = 0, fp = 0, fn = 0, tn = 0;
    for (size_t i = 0; i < n; ++i) {
      bool guess = probs[i] > 0.5;
      (labels[i] ? (guess ? tp : fn) : (guess ? fp : tn)) += w[i];
    }
    double precision = ratio_or_zero(tp, tp + fp), recall = ratio_or_zero(tp, tp + fn);
    return std::vector<double>{ranked.auc(w), double(tp + tn) / double(tp + fp + fn + tn), f1_from(precision, recall)};
  };
  std::vector<MetricEstimate> estimates = bootstrap_metrics(int64_t(n), metric_set, b);

  json out;
  out["kind"] = "binary";
  out["n"] = n;
  int64_t positives = 0;
  for (int y : labels) positives += y;
  out["class_counts"] = {int64_t(n) - positives, positives};
  out["metrics"] = metrics_json(binary_metric_names(), estimates);
  out["roc"] = {{"auc", roc_or_null(probs, labels)}};
  out["bootstrap"] = bootstrap_json(b);
  return out;
}

json evaluate_findings(const std::vector<std::vector<double>>& probs, const std::vector<std::vector<int>>& labels,
                       const std::vector<std::string>& names, const BootstrapOptions& b) {
  const char* op = "evaluate_findings";
  const size_t k = names.size(), n = labels.size();
  CXR_CHECK(k > 0, op, ": no finding names");
  std::set<std::string> distinct;
  for (const std::string& name : names) {
    CXR_CHECK(!name.empty(), op, ": a finding name is empty");
    CXR_CHECK(distinct.insert(name).second, op, ": finding name '", name, "' appears twice");
  }
  CXR_CHECK(probs.size() == n, op, ": probs has ", probs.size(), " rows but labels has ", n);
  CXR_CHECK(n > 0, op, ": no samples");
  for (size_t i = 0; i < n; ++i) {
    CXR_CHECK(probs[i].size() == k, op, ": probs row ", i, " has ", probs[i].size(), " entries, expected ", k,
              " (one per finding name)");
    CXR_CHECK(labels[i].size() == k, op, ": labels row ", i, " has ", labels[i].size(), " entries, expected ", k,
              " (one per finding name)");
    for (size_t j = 0; j < k; ++j) {
      CXR_CHECK(labels[i][j] >= -2 && labels[i][j] <= 1, op, ": label of '", names[j], "' in row ", i, " is ",
                labels[i][j], "; expected -2 (missing), -1 (uncertain), 0 or 1");
      CXR_CHECK(is_probability(probs[i][j]), op, ": probability of '", names[j], "' in row ", i, " is ", probs[i][j],
                "; expected a value in [0, 1]");
    }
  }

  // Finding j: the rows labelled 0/1, their probabilities and labels.
  std::vector<BinaryTask> tasks(k);
  std::vector<RankedScores> ranked;
  for (size_t j = 0; j < k; ++j) {
    tasks[j].name = "auc_" + names[j];
    for (size_t i = 0; i < n; ++i)
      if (labels[i][j] == 0 || labels[i][j] == 1) tasks[j].add(int32_t(i), probs[i][j], labels[i][j] == 1);
    ranked.emplace_back(tasks[j].scores, tasks[j].targets, tasks[j].ids);
  }
  // auc_mean averages the findings whose AUC is defined on the full sample; a replicate where one of
  // them is undefined has no auc_mean (so every replicate averages the same findings).
  std::vector<size_t> defined;
  for (size_t j = 0; j < k; ++j)
    if (!std::isnan(ranked[j].auc())) defined.push_back(j);

  auto metric_set = [&](const std::vector<int32_t>& w) {
    std::vector<double> out(k + 1);
    for (size_t j = 0; j < k; ++j) out[j] = ranked[j].auc(w);
    double sum = 0;
    for (size_t j : defined) sum += out[j];
    out[k] = defined.empty() ? kNaN : sum / double(defined.size());  // NaN if any is NaN
    return out;
  };
  std::vector<MetricEstimate> estimates = bootstrap_metrics(int64_t(n), metric_set, b);

  std::vector<std::string> metric_names;
  for (const BinaryTask& t : tasks) metric_names.push_back(t.name);
  metric_names.push_back("auc_mean");
  json out;
  out["kind"] = "findings";
  out["n"] = n;
  out["metrics"] = metrics_json(metric_names, estimates);
  out["roc"] = json::object();
  out["finding_counts"] = json::object();
  for (size_t j = 0; j < k; ++j) {
    out["roc"][tasks[j].name] = roc_or_null(tasks[j].scores, tasks[j].targets);
    int64_t positives = 0;
    for (int y : tasks[j].targets) positives += y;
    out["finding_counts"][names[j]] = {int64_t(tasks[j].targets.size()) - positives, positives};
  }
  out["bootstrap"] = bootstrap_json(b);
  return out;
}

std::string format_with_ci(const json& metric, int decimals) {
  CXR_CHECK(decimals >= 0 && decimals <= 17, "format_with_ci: decimals must be in 0..17, got ", decimals);
  auto fmt = [&](const json& v) {
    CXR_CHECK(v.is_number(), "format_with_ci: expected a number, got ", v.dump());
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v.get<double>());
    return std::string(buf);
  };
  if (metric.is_null()) return "n/a";
  if (metric.is_number()) return fmt(metric);
  CXR_CHECK(metric.is_object() && metric.contains("value"),
            "format_with_ci: expected a metric object {\"value\", \"ci_low\", \"ci_high\"} or a number, got ",
            metric.dump());
  const json& value = metric["value"];
  if (value.is_null()) return "n/a";
  const json low = metric.value("ci_low", json(nullptr)), high = metric.value("ci_high", json(nullptr));
  if (low.is_null() || high.is_null()) return fmt(value);
  return fmt(value) + " (" + fmt(low) + "-" + fmt(high) + ")";
}

}  // namespace cxr::eval
