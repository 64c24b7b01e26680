// test_metrics.cpp — eval/: ROC curves and AUCs, the edema / binary / findings metric sets and the
// bootstrap intervals against scikit-learn 1.2 and numpy (tests/goldens/metrics.safetensors from
// tools/goldens/metrics.py, whose bootstrap resamples come from the Python Philox port); the
// weighted-AUC fast path against explicit resamples; determinism across thread counts; the JSON
// schema of docs/RUNS.md; error messages.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "tensor/cpu/runtime.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::eval;
using namespace cxr::testing;
using nlohmann::json;

namespace {

constexpr double kTol = 1e-12;  // sklearn's trapezoid sums vs our exact pair counts: a few ulps

const json& fixture_cases() {
  static const json cases = json::parse(golden("metrics").metadata.at("cases"));
  return cases;
}
const json& fixture_finding_names() {
  static const json names = json::parse(golden("metrics").metadata.at("finding_names"));
  return names;
}
bool has(const std::string& key) { return golden("metrics").tensors.count(key) > 0; }
std::vector<double> doubles(const std::string& key) { return golden_tensor("metrics", key).to_vector(); }
std::vector<int> ints(const std::string& key) {
  std::vector<int> out;
  for (double v : doubles(key)) out.push_back(int(v));
  return out;
}
double scalar(const std::string& key) { return golden_tensor("metrics", key).item(); }

std::vector<std::array<double, 4>> rows4(const std::string& key) {
  Tensor t = golden_tensor("metrics", key);
  REQUIRE(t.dim() == 2);
  REQUIRE(t.shape()[1] == 4);
  std::vector<double> v = t.to_vector();
  std::vector<std::array<double, 4>> out(v.size() / 4);
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t c = 0; c < 4; ++c) out[i][c] = v[4 * i + c];
  return out;
}
template <typename T>
std::vector<std::vector<T>> rows(const std::string& key) {
  Tensor t = golden_tensor("metrics", key);
  REQUIRE(t.dim() == 2);
  std::vector<double> v = t.to_vector();
  size_t k = size_t(t.shape()[1]);
  std::vector<std::vector<T>> out(v.size() / k);
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = 0; j < k; ++j) out[i].push_back(T(v[k * i + j]));
  return out;
}

// NaN (undefined) must match NaN; otherwise |a - e| <= kTol (1 + |e|).
bool same_value(double actual, double expected) {
  if (std::isnan(expected) || std::isnan(actual)) return std::isnan(expected) && std::isnan(actual);
  return std::fabs(actual - expected) <= kTol * (1 + std::fabs(expected));
}
std::string full(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
void check_value(double actual, double expected, const std::string& what) {
  CHECK_MESSAGE(same_value(actual, expected), what, ": got ", full(actual), ", sklearn ", full(expected));
}
double json_value(const json& v) { return v.is_null() ? std::nan("") : v.get<double>(); }
void check_values(const std::vector<double>& actual, const std::vector<double>& expected, const std::string& what) {
  REQUIRE_MESSAGE(actual.size() == expected.size(), what, ": ", actual.size(), " points, sklearn has ",
                  expected.size());
  for (size_t i = 0; i < actual.size(); ++i) check_value(actual[i], expected[i], what + "[" + std::to_string(i) + "]");
}

// The metric objects of `result` against "<prefix>.m.<name>" scalars; no interval requested.
void check_point_metrics(const json& result, const std::string& prefix, size_t expected_count) {
  const json& metrics = result.at("metrics");
  CHECK(metrics.size() == expected_count);
  for (const auto& [name, m] : metrics.items()) {
    REQUIRE_MESSAGE(has(prefix + ".m." + name), "fixture has no metric ", prefix, ".m.", name);
    check_value(json_value(m.at("value")), scalar(prefix + ".m." + name), prefix + " " + name);
    CHECK(m.at("ci_low").is_null());
    CHECK(m.at("ci_high").is_null());
    CHECK(m.at("replicates_used") == 0);
  }
}

// result["roc"][name] is the curve "<prefix>.roc.<name>.fpr/.tpr", or null when the fixture has none.
void check_roc_entries(const json& result, const std::string& prefix) {
  for (const auto& [name, curve] : result.at("roc").items()) {
    std::string key = prefix + ".roc." + name;
    if (!has(key + ".fpr")) {
      CHECK_MESSAGE(curve.is_null(), key, " should be null (one class)");
      CHECK(result["metrics"][name]["value"].is_null());
      continue;
    }
    REQUIRE_MESSAGE(curve.is_object(), key, " is missing");
    check_values(curve.at("fpr").get<std::vector<double>>(), doubles(key + ".fpr"), key + ".fpr");
    check_values(curve.at("tpr").get<std::vector<double>>(), doubles(key + ".tpr"), key + ".tpr");
  }
}

BootstrapOptions no_bootstrap() { return {.replicates = 0}; }

// A reasonable edema sample: labels with a skew, probabilities leaning toward the label.
void synthetic_ordinal(size_t n, uint64_t seed, std::vector<std::array<double, 4>>& probs, std::vector<int>& labels) {
  Generator g(seed);
  probs.resize(n), labels.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double u = g.uniform(5 * i);
    labels[i] = u < 0.45 ? 0 : u < 0.75 ? 1 : u < 0.9 ? 2 : 3;
    std::array<double, 4> z{};
    double sum = 0;
    for (size_t c = 0; c < 4; ++c) {
      z[c] = std::exp(1.2 * g.normal(5 * i + 1 + c) + (int(c) == labels[i] ? 1.5 : 0.0));
      sum += z[c];
    }
    for (size_t c = 0; c < 4; ++c) probs[i][c] = z[c] / sum;
  }
}

class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : old_(cpu::num_threads()) { cpu::set_num_threads(n); }
  ~ScopedThreads() { cpu::set_num_threads(old_); }

 private:
  int old_;
};

}  // namespace

TEST_CASE("metrics: roc_curve and roc_auc match sklearn (ties, tiny, imbalanced, perfect, inverted, one class)") {
  const json& names = fixture_cases().at("roc");
  REQUIRE(names.size() >= 14);
  for (const auto& name : names) {
    std::string key = "roc." + name.get<std::string>();
    INFO(key);
    std::vector<double> scores = doubles(key + ".scores");
    std::vector<int> targets = ints(key + ".targets");
    RocCurve curve = roc_curve(scores, targets);
    check_values(curve.fpr, doubles(key + ".fpr"), key + ".fpr");
    check_values(curve.tpr, doubles(key + ".tpr"), key + ".tpr");
    check_values(curve.thresholds, doubles(key + ".thresholds"), key + ".thresholds");
    check_value(roc_auc(scores, targets), scalar(key + ".auc"), key + ".auc");
  }
  // The named edge cases hold what they claim.
  CHECK(scalar("roc.perfect.auc") == 1.0);
  CHECK(scalar("roc.inverted.auc") == 0.0);
  CHECK(scalar("roc.all_tied.auc") == 0.5);
  CHECK(std::isnan(scalar("roc.only_positive.auc")));
  CHECK(std::isnan(roc_auc({}, {})));
}

TEST_CASE("metrics: the weighted AUC equals the AUC of the explicit resample") {
  // Scores with ties (rounded to 1 decimal) and a subset of the samples, as the pairwise AUCs use.
  Generator g(42);
  const int n = 300;
  std::vector<double> all_scores(n);
  std::vector<int> all_targets(n);
  for (int i = 0; i < n; ++i) {
    all_targets[size_t(i)] = g.uniform(2 * uint64_t(i)) < 0.4;
    all_scores[size_t(i)] = std::round(10 * (0.7 * g.uniform(2 * uint64_t(i) + 1) + 0.3 * all_targets[size_t(i)])) / 10;
  }
  std::vector<int32_t> ids;
  std::vector<double> scores;
  std::vector<int> targets;
  for (int i = 0; i < n; i += 3)
    ids.push_back(i), scores.push_back(all_scores[size_t(i)]), targets.push_back(all_targets[size_t(i)]);
  RankedScores ranked(scores, targets, ids);
  CHECK(ranked.auc() == roc_auc(scores, targets));
  for (int64_t r = 0; r < 20; ++r) {
    std::vector<int32_t> weights(n, 0);
    std::vector<double> resampled_scores;
    std::vector<int> resampled_targets;
    for (int64_t i : bootstrap_sample(n, r, 9)) {
      ++weights[size_t(i)];
      if (i % 3 == 0)
        resampled_scores.push_back(all_scores[size_t(i)]), resampled_targets.push_back(all_targets[size_t(i)]);
    }
    // Both are exact pair counts divided once: bit-identical.
    CHECK(ranked.auc(weights) == roc_auc(resampled_scores, resampled_targets));
  }
}

TEST_CASE("metrics: evaluate_ordinal4 matches sklearn (AUCs, macro-F1 with unpredicted classes, accuracy, MSE)") {
  const json& names = fixture_cases().at("ord");
  REQUIRE(names.size() >= 11);
  for (const auto& name : names) {
    std::string key = "ord." + name.get<std::string>();
    INFO(key);
    std::vector<std::array<double, 4>> probs = rows4(key + ".probs");
    std::vector<int> labels = ints(key + ".labels");
    json r = evaluate_ordinal4(probs, labels, no_bootstrap());
    CHECK(r.at("kind") == "ordinal4");
    CHECK(r.at("n") == labels.size());
    std::vector<int64_t> counts(4, 0);
    for (int y : labels) ++counts[size_t(y)];
    CHECK(r.at("class_counts").get<std::vector<int64_t>>() == counts);
    check_point_metrics(r, key, ordinal4_metric_names().size());
    CHECK(r.at("confusion").get<std::vector<std::vector<int>>>() == rows<int>(key + ".confusion"));
    CHECK(r.at("roc").size() == 13);
    check_roc_entries(r, key);
  }
  // The named edge cases hold what they claim.
  CHECK(std::isnan(scalar("ord.missing_class.m.auc_012v3")));
  CHECK(scalar("ord.perfect.m.macro_f1") == 1.0);
  CHECK(scalar("ord.inverted.m.auc_0v3") == 0.0);
  CHECK(std::isnan(scalar("ord.single_class.m.auc_0v123")));
  json never =
      evaluate_ordinal4(rows4("ord.never_predicted.probs"), ints("ord.never_predicted.labels"), no_bootstrap());
  for (const auto& row : never["confusion"]) CHECK(row[2] == 0);  // class 2 never predicted...
  CHECK(never["class_counts"][2] > 0);                            // ...but present: its F1 counts as 0
}

TEST_CASE("metrics: evaluate_binary matches sklearn") {
  const json& names = fixture_cases().at("bin");
  REQUIRE(names.size() >= 4);
  for (const auto& name : names) {
    std::string key = "bin." + name.get<std::string>();
    INFO(key);
    std::vector<double> probs = doubles(key + ".probs");
    std::vector<int> labels = ints(key + ".labels");
    json r = evaluate_binary(probs, labels, no_bootstrap());
    CHECK(r.at("kind") == "binary");
    CHECK(r.at("n") == labels.size());
    int64_t positives = std::count(labels.begin(), labels.end(), 1);
    CHECK(r.at("class_counts") == json{int64_t(labels.size()) - positives, positives});
    check_point_metrics(r, key, 3);
    check_roc_entries(r, key);
    CHECK(!r.contains("confusion"));
  }
  CHECK(scalar("bin.none_predicted_positive.m.f1") == 0.0);
}

TEST_CASE("metrics: evaluate_findings matches sklearn (rows with labels 0/1 only, a finding without positives)") {
  const json& names = fixture_cases().at("find");
  REQUIRE(!names.empty());
  for (const auto& name : names) {
    std::string key = "find." + name.get<std::string>();
    INFO(key);
    auto finding_names = fixture_finding_names().at(name.get<std::string>()).get<std::vector<std::string>>();
    json r = evaluate_findings(rows<double>(key + ".probs"), rows<int>(key + ".labels"), finding_names, no_bootstrap());
    CHECK(r.at("kind") == "findings");
    CHECK(!r.contains("class_counts"));
    check_point_metrics(r, key, finding_names.size() + 1);
    check_roc_entries(r, key);
    std::vector<std::vector<int64_t>> counts = rows<int64_t>(key + ".counts");
    for (size_t j = 0; j < finding_names.size(); ++j)
      CHECK(r.at("finding_counts").at(finding_names[j]).get<std::vector<int64_t>>() == counts[j]);
  }
  CHECK(std::isnan(scalar("find.main.m.auc_Pneumothorax")));
  CHECK(!std::isnan(scalar("find.main.m.auc_mean")));
}

TEST_CASE("metrics: bootstrap resamples match the Python Philox port index for index") {
  const json& cases = fixture_cases().at("boot_indices");
  REQUIRE(cases.size() >= 5);
  for (const auto& c : cases) {
    std::string key = "boot_indices." + c.at("name").get<std::string>();
    INFO(key);
    std::vector<int64_t> expected;
    for (double v : doubles(key)) expected.push_back(int64_t(v));
    CHECK(bootstrap_sample(c.at("n").get<int64_t>(), c.at("replicate").get<int64_t>(),
                           std::stoull(c.at("seed").get<std::string>())) == expected);
  }
}

TEST_CASE("metrics: bootstrap percentile intervals match numpy over sklearn replicates") {
  const json& cases = fixture_cases().at("boot");
  REQUIRE(cases.size() >= 4);
  bool some_skipped = false;
  for (const auto& c : cases) {
    std::string name = c.at("name"), kind = c.at("kind"), key = "boot." + name;
    INFO(key);
    std::vector<double> options = doubles(key + ".options");
    BootstrapOptions b{.replicates = int64_t(options[0]), .level = options[1], .seed = uint64_t(options[2])};
    json r;
    if (kind == "ord") {
      r = evaluate_ordinal4(rows4(key + ".probs"), ints(key + ".labels"), b);
    } else if (kind == "bin") {
      r = evaluate_binary(doubles(key + ".probs"), ints(key + ".labels"), b);
    } else {
      auto finding_names = fixture_finding_names().at("boot:" + name).get<std::vector<std::string>>();
      r = evaluate_findings(rows<double>(key + ".probs"), rows<int>(key + ".labels"), finding_names, b);
    }
    CHECK(r.at("bootstrap") == json{{"replicates", b.replicates}, {"level", b.level}, {"seed", b.seed}});
    for (const auto& [metric, m] : r.at("metrics").items()) {
      std::vector<double> expected = doubles(key + ".m." + metric);  // value, ci_low, ci_high, used
      check_value(json_value(m.at("value")), expected[0], key + " " + metric + " value");
      check_value(json_value(m.at("ci_low")), expected[1], key + " " + metric + " ci_low");
      check_value(json_value(m.at("ci_high")), expected[2], key + " " + metric + " ci_high");
      CHECK_MESSAGE(m.at("replicates_used") == int64_t(expected[3]), key, " ", metric, " replicates used");
      some_skipped |= expected[3] > 0 && expected[3] < b.replicates;
    }
  }
  CHECK(some_skipped);  // the fixtures exercise replicates where a metric is undefined
}

TEST_CASE("metrics: quantile_linear is numpy's linear quantile") {
  std::vector<double> v = {1, 2, 3, 4};
  CHECK(quantile_linear(v, 0) == 1);
  CHECK(quantile_linear(v, 1) == 4);
  CHECK(quantile_linear(v, 0.25) == 1.75);  // h = 0.75: 2 - (2 - 1) * 0.25
  CHECK(quantile_linear(v, 0.5) == 2.5);
  CHECK(quantile_linear({7}, 0.025) == 7);
  CHECK_THROWS_WITH_AS(quantile_linear({}, 0.5), "quantile_linear: no values", Error);
}

TEST_CASE("metrics: bootstrap is deterministic, thread-count independent, and brackets the estimate") {
  std::vector<std::array<double, 4>> probs;
  std::vector<int> labels;
  synthetic_ordinal(150, 3, probs, labels);
  BootstrapOptions b{.replicates = 200, .level = 0.95, .seed = 17};
  json one, two, again;
  {
    ScopedThreads t(1);
    one = evaluate_ordinal4(probs, labels, b);
  }
  {
    ScopedThreads t(2);
    two = evaluate_ordinal4(probs, labels, b);
    again = evaluate_ordinal4(probs, labels, b);
  }
  CHECK(one.dump() == two.dump());
  CHECK(two.dump() == again.dump());
  for (const auto& [name, m] : one["metrics"].items()) {
    INFO(name);
    REQUIRE(!m["value"].is_null());
    double value = m["value"], low = m["ci_low"], high = m["ci_high"];
    CHECK(low <= high);
    if (name.rfind("auc_", 0) == 0 || name == "macro_f1" || name == "accuracy" || name == "mse") {
      CHECK(low <= value);
      CHECK(value <= high);
      CHECK(high - low > 0);  // a real interval on a non-degenerate sample
    }
  }
  // Another seed draws other replicates: some interval moves.
  b.seed = 18;
  json other = evaluate_ordinal4(probs, labels, b);
  CHECK(other["metrics"]["auc_0v123"]["value"] == one["metrics"]["auc_0v123"]["value"]);
  CHECK(other["metrics"].dump() != one["metrics"].dump());
}

TEST_CASE("metrics: JSON follows docs/RUNS.md") {
  std::vector<std::array<double, 4>> probs;
  std::vector<int> labels;
  synthetic_ordinal(40, 5, probs, labels);
  json r = evaluate_ordinal4(probs, labels, {.replicates = 20});
  for (const char* key : {"kind", "n", "class_counts", "metrics", "roc", "confusion", "bootstrap"})
    CHECK_MESSAGE(r.contains(key), key);
  for (const char* name :
       {"auc_0v123", "auc_01v23", "auc_012v3", "auc_0v1", "auc_0v2", "auc_0v3", "auc_1v2", "auc_1v3", "auc_2v3",
        "auc_ovr_0", "auc_ovr_1", "auc_ovr_2", "auc_ovr_3", "macro_f1", "accuracy", "mse"}) {
    INFO(name);
    REQUIRE(r["metrics"].contains(name));
    for (const char* field : {"value", "ci_low", "ci_high", "replicates_used"})
      CHECK(r["metrics"][name].contains(field));
    if (std::string(name).rfind("auc_", 0) == 0) CHECK(r["roc"].contains(name));
  }
  CHECK(r["confusion"].size() == 4);
  // Findings: Cardiomegaly has only positive rows (the -1 row is dropped), so its AUC and curve are
  // null and auc_mean is Edema's AUC alone.
  json f = evaluate_findings({{0.2, 0.9}, {0.7, 0.1}, {0.4, 0.6}}, {{0, 1}, {1, -1}, {1, 1}}, {"Edema", "Cardiomegaly"},
                             {.replicates = 0});
  CHECK(f["metrics"]["auc_Edema"]["value"] == 1.0);
  CHECK(f["metrics"]["auc_Cardiomegaly"]["value"].is_null());
  CHECK(f["roc"]["auc_Cardiomegaly"].is_null());
  CHECK(f["metrics"]["auc_mean"]["value"] == 1.0);
  CHECK(f["finding_counts"]["Cardiomegaly"] == json{0, 2});
}

TEST_CASE("metrics: format_with_ci") {
  CHECK(format_with_ci(json{{"value", 0.8123}, {"ci_low", 0.7351}, {"ci_high", 0.8849}}) == "0.81 (0.74-0.88)");
  CHECK(format_with_ci(json{{"value", 0.8123}, {"ci_low", nullptr}, {"ci_high", nullptr}}, 3) == "0.812");
  CHECK(format_with_ci(json{{"value", nullptr}, {"ci_low", nullptr}, {"ci_high", nullptr}}) == "n/a");
  CHECK(format_with_ci(json(0.5), 1) == "0.5");
  CHECK(format_with_ci(json(nullptr)) == "n/a");
  CHECK_THROWS_WITH_AS(format_with_ci(json("x")), doctest::Contains("format_with_ci: expected a metric object"), Error);
  CHECK_THROWS_WITH_AS(format_with_ci(json(0.5), -1), doctest::Contains("decimals must be in 0..17"), Error);
}

TEST_CASE("metrics: bad input gives clear errors") {
  using doctest::Contains;
  std::vector<std::array<double, 4>> p = {{0.1, 0.2, 0.3, 0.4}, {0.7, 0.1, 0.1, 0.1}};
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {0}), Contains("evaluate_ordinal4: probs has 2 rows but labels has 1"),
                       Error);
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {0, 4}),
                       Contains("evaluate_ordinal4: label 1 is 4; edema labels must be in 0..3"), Error);
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {-1, 0}), Contains("label 0 is -1"), Error);
  CHECK_THROWS_WITH_AS(evaluate_ordinal4({}, {}), Contains("evaluate_ordinal4: no samples"), Error);
  p[1][2] = std::nan("");
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {0, 1}),
                       Contains("evaluate_ordinal4: probs row 1 is not a probability vector"), Error);
  p[1] = {2.0, -1.0, 0.0, 0.0};
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {0, 1}), Contains("probs row 1 is not a probability vector"), Error);
  p[1] = {0.5, 0.5, 0.5, 0.5};
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {0, 1}), Contains("probs row 1 sums to 2, not 1"), Error);
  p[1] = {0.7, 0.1, 0.1, 0.1};
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {0, 1}, {.level = 1.5}), Contains("bootstrap: level must be in (0, 1)"),
                       Error);
  CHECK_THROWS_WITH_AS(evaluate_ordinal4(p, {0, 1}, {.replicates = -3}), Contains("replicates must be >= 0"), Error);

  CHECK_THROWS_WITH_AS(evaluate_binary({0.2, 0.3}, {1}),
                       Contains("evaluate_binary: probs has 2 entries but labels has 1"), Error);
  CHECK_THROWS_WITH_AS(evaluate_binary({0.2, 0.3}, {1, -1}), Contains("evaluate_binary: label 1 is -1; binary labels"),
                       Error);
  CHECK_THROWS_WITH_AS(evaluate_binary({0.2, std::nan("")}, {1, 0}), Contains("evaluate_binary: probability 1 is nan"),
                       Error);
  CHECK_THROWS_WITH_AS(evaluate_binary({0.2, 3.0}, {1, 0}), Contains("probability 1 is 3"), Error);

  std::vector<std::string> names = {"Edema", "Cardiomegaly"};
  CHECK_THROWS_WITH_AS(evaluate_findings({{0.1, 0.2}, {0.3}}, {{0, 1}, {1, 0}}, names),
                       Contains("evaluate_findings: probs row 1 has 1 entries, expected 2"), Error);
  CHECK_THROWS_WITH_AS(evaluate_findings({{0.1, 0.2}}, {{0, 1, 1}}, names),
                       Contains("evaluate_findings: labels row 0 has 3 entries, expected 2"), Error);
  CHECK_THROWS_WITH_AS(evaluate_findings({{0.1, 0.2}}, {{0, 2}}, names),
                       Contains("label of 'Cardiomegaly' in row 0 is 2"), Error);
  CHECK_THROWS_WITH_AS(evaluate_findings({{0.1, std::nan("")}}, {{0, 1}}, names),
                       Contains("probability of 'Cardiomegaly' in row 0 is nan"), Error);
  CHECK_THROWS_WITH_AS(evaluate_findings({{0.1, 0.2}}, {{0, 1}}, {"Edema", "Edema"}),
                       Contains("finding name 'Edema' appears twice"), Error);
  CHECK_THROWS_WITH_AS(evaluate_findings({{0.1, 0.2}}, {{0, 1}, {1, 1}}, names),
                       Contains("probs has 1 rows but labels has 2"), Error);

  CHECK_THROWS_WITH_AS(roc_curve({0.1, 0.2}, {0, 1, 1}), Contains("roc_curve: scores has 2 entries but targets has 3"),
                       Error);
  CHECK_THROWS_WITH_AS(roc_curve({0.1, 0.2}, {0, 2}), Contains("roc_curve: target 1 is 2; targets must be 0 or 1"),
                       Error);
  CHECK_THROWS_WITH_AS(roc_auc({0.1, INFINITY}, {0, 1}), Contains("roc_auc: score 1 is not finite"), Error);
  CHECK_THROWS_WITH_AS(roc_curve({}, {}), Contains("roc_curve: no samples"), Error);
  CHECK_THROWS_WITH_AS(bootstrap_sample(0, 0, 0), Contains("bootstrap_sample: n must be at least 1"), Error);
}

TEST_CASE("metrics: 1000 bootstrap replicates on 1000 edema samples (timed), and a tenth of the samples widens the interval") {
  std::vector<std::array<double, 4>> probs;
  std::vector<int> labels;
  synthetic_ordinal(1000, 11, probs, labels);
  auto start = std::chrono::steady_clock::now();
  json r = evaluate_ordinal4(probs, labels, {.replicates = 1000, .seed = 1});
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("evaluate_ordinal4, N=1000, 1000 replicates: ", seconds, " s");
  CHECK(r["metrics"]["auc_0v123"]["replicates_used"] == 1000);
  double width_1000 = double(r["metrics"]["auc_0v123"]["ci_high"]) - double(r["metrics"]["auc_0v123"]["ci_low"]);
  // A tenth of the samples gives a visibly wider interval (about sqrt(10) times).
  probs.resize(100), labels.resize(100);
  json small = evaluate_ordinal4(probs, labels, {.replicates = 1000, .seed = 1});
  double width_100 = double(small["metrics"]["auc_0v123"]["ci_high"]) - double(small["metrics"]["auc_0v123"]["ci_low"]);
  CHECK(width_100 > 2 * width_1000);
}
