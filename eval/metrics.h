// metrics.h — the evaluation metrics of METHODS.md section 9 with bootstrap intervals, written as
// the eval JSON of docs/RUNS.md (definitions and the exact JSON in docs/EVALUATION.md).
//
//   evaluate_ordinal4  edema severity: probs N x 4 (softmax rows), labels 0..3
//   evaluate_binary    one CheXpert finding: probs N (sigmoid), labels 0/1
//   evaluate_findings  several findings: probs N x K, labels N x K in {-2, -1, 0, 1}; each finding
//                      uses only its rows labelled 0 or 1
//
// The returned object holds "kind", "n", "class_counts" (not for findings), "metrics", "roc",
// "confusion" (ordinal4 only) and "bootstrap"; the caller adds "task" and "split". Each metric is
// {"value", "ci_low", "ci_high", "replicates_used"}; an undefined value or interval is null.
// AUCs, F1, precision, recall and accuracy match scikit-learn 1.2 (roc_curve + auc, f1_score with
// average='macro' and zero_division='warn' -> 0); see eval/roc.h and eval/bootstrap.h.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/bootstrap.h"
#include "eval/roc.h"

namespace cxr::eval {

// The metric names of each kind, in the order they are computed.
const std::vector<std::string>& ordinal4_metric_names();
const std::vector<std::string>& binary_metric_names();

// probs: rows of 4 class probabilities (finite, in [0, 1], summing to 1 within 1e-3); labels 0..3.
nlohmann::json evaluate_ordinal4(const std::vector<std::array<double, 4>>& probs, const std::vector<int>& labels,
                                 const BootstrapOptions& b = {});
// probs: sigmoid probabilities in [0, 1]; labels 0/1 (the caller drops the others). A sample is
// predicted positive when p > 0.5 (logit > 0).
nlohmann::json evaluate_binary(const std::vector<double>& probs, const std::vector<int>& labels,
                               const BootstrapOptions& b = {});
// probs and labels: N rows of K = names.size() entries; names distinct and non-empty.
nlohmann::json evaluate_findings(const std::vector<std::vector<double>>& probs,
                                 const std::vector<std::vector<int>>& labels, const std::vector<std::string>& names,
                                 const BootstrapOptions& b = {});

// "0.81 (0.74-0.88)" for a metric object; "0.81" without an interval; "n/a" when the value is null.
// A bare number is formatted alone.
std::string format_with_ci(const nlohmann::json& metric, int decimals = 2);

}  // namespace cxr::eval
