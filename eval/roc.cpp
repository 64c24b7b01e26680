// roc.cpp — sklearn-compatible roc_curve, the Mann-Whitney AUC and its weighted fast path. See roc.h.
#include "eval/roc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tensor/error.h"

namespace cxr::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_binary_inputs(const char* op, const std::vector<double>& scores, const std::vector<int>& targets) {
  CXR_CHECK(scores.size() == targets.size(), op, ": scores has ", scores.size(), " entries but targets has ",
            targets.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    CXR_CHECK(std::isfinite(scores[i]), op, ": score ", i, " is not finite (", scores[i], ")");
    CXR_CHECK(targets[i] == 0 || targets[i] == 1, op, ": target ", i, " is ", targets[i], "; targets must be 0 or 1");
  }
}

// Sample positions sorted by descending score (ties in any order: every use sums over a tie group).
std::vector<int32_t> descending_order(const std::vector<double>& scores) {
  std::vector<int32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return scores[a] > scores[b]; });
  return order;
}

}  // namespace

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<int>& targets) {
  check_binary_inputs("roc_curve", scores, targets);
  CXR_CHECK(!scores.empty(), "roc_curve: no samples");
  std::vector<int32_t> order = descending_order(scores);

  // One point per distinct score: tps/fps = positives/negatives with score >= that threshold
  // (sklearn _binary_clf_curve).
  std::vector<double> tps, fps, thresholds;
  int64_t positives = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    positives += targets[order[i]];
    bool group_ends = i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]];
    if (!group_ends) continue;
    tps.push_back(double(positives));
    fps.push_back(double(int64_t(i) + 1 - positives));
    thresholds.push_back(scores[order[i]]);
  }

  // drop_intermediate: keep the end points and every point where the second difference of fps or
  // tps is nonzero (a corner); collinear points in between do not change the curve or its area.
  if (tps.size() > 2) {
    size_t kept = 1;
    for (size_t i = 1; i + 1 < tps.size(); ++i) {
      bool corner =
          (fps[i + 1] - fps[i]) - (fps[i] - fps[i - 1]) != 0 || (tps[i + 1] - tps[i]) - (tps[i] - tps[i - 1]) != 0;
      if (!corner) continue;
      tps[kept] = tps[i], fps[kept] = fps[i], thresholds[kept] = thresholds[i];
      ++kept;
    }
    tps[kept] = tps.back(), fps[kept] = fps.back(), thresholds[kept] = thresholds.back();
    tps.resize(kept + 1), fps.resize(kept + 1), thresholds.resize(kept + 1);
  }

  // The extra first point (0, 0) at a threshold no sample reaches (sklearn 1.2: max score + 1).
  RocCurve curve;
  curve.thresholds.reserve(thresholds.size() + 1);
  curve.thresholds.push_back(thresholds.front() + 1);
  curve.thresholds.insert(curve.thresholds.end(), thresholds.begin(), thresholds.end());
  double total_negatives = fps.back(), total_positives = tps.back();
  curve.fpr.push_back(total_negatives > 0 ? 0.0 : kNaN);
  curve.tpr.push_back(total_positives > 0 ? 0.0 : kNaN);
  for (size_t i = 0; i < tps.size(); ++i) {
    curve.fpr.push_back(total_negatives > 0 ? fps[i] / total_negatives : kNaN);
    curve.tpr.push_back(total_positives > 0 ? tps[i] / total_positives : kNaN);
  }
  return curve;
}

double roc_auc(const std::vector<double>& scores, const std::vector<int>& targets) {
  check_binary_inputs("roc_auc", scores, targets);
  std::vector<int32_t> ids(scores.size());
  std::iota(ids.begin(), ids.end(), 0);
  return RankedScores(scores, targets, ids).auc();
}

RankedScores::RankedScores(const std::vector<double>& scores, const std::vector<int>& targets,
                           const std::vector<int32_t>& ids) {
  std::vector<int32_t> order = descending_order(scores);
  id_.resize(order.size());
  positive_.resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    id_[i] = ids[order[i]];
    positive_[i] = uint8_t(targets[order[i]] == 1);
    if (i + 1 == order.size() || scores[order[i + 1]] != scores[order[i]]) group_end_.push_back(int32_t(i + 1));
  }
}

// Walking the tie groups from the highest score down, a negative in group g is ranked below every
// positive seen in earlier groups (correct order: 1 each) and tied with the positives of g (1/2 each):
//   2 * AUC * P * N = sum_g neg_g * (2 * pos_above_g + pos_g).
double RankedScores::auc(const std::vector<int32_t>& weights) const {
  int64_t pos_above = 0, negatives = 0, twice_correct = 0;
  int32_t begin = 0;
  for (int32_t end : group_end_) {
    int64_t pos = 0, neg = 0;
    for (int32_t i = begin; i < end; ++i) (positive_[i] ? pos : neg) += weights[id_[i]];
    twice_correct += neg * (2 * pos_above + pos);
    pos_above += pos;
    negatives += neg;
    begin = end;
  }
  if (pos_above == 0 || negatives == 0) return kNaN;
  return double(twice_correct) / (2.0 * double(pos_above) * double(negatives));
}

double RankedScores::auc() const {
  int32_t max_id = id_.empty() ? -1 : *std::max_element(id_.begin(), id_.end());
  return auc(std::vector<int32_t>(size_t(max_id + 1), 1));
}

}  // namespace cxr::eval
