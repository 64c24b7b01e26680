// eval.cpp — `cxr eval --checkpoint RUN --manifest CSV [--task T] [--split test] --out R.json`:
// the metrics of METHODS.md §9 (ordinal, pairwise and one-vs-rest AUCs, macro-F1, accuracy, MSE,
// per-finding AUCs) with bootstrap 95% CIs, for a trained run (train/trainer.h run_evaluation;
// schema in docs/RUNS.md). Prints the point estimates as one JSON line.
#include <cstdio>
#include <memory>

#include "apps/command.h"
#include "train/trainer.h"

namespace cxr::apps {
namespace {

CommandRun setup_eval(CLI::App& sub) {
  auto e = std::make_shared<train::EvalOptions>();
  sub.add_option("--checkpoint", e->run_dir, "a run directory of cxr train (config.json, model.safetensors)")->required()
      ->check(CLI::ExistingDirectory);
  sub.add_option("--manifest", e->manifest, "the manifest whose split is evaluated")->required()->check(CLI::ExistingFile);
  sub.add_option("--task", e->task, "default: the run's task; a findings model can be evaluated on one finding");
  sub.add_option("--split", e->split, "manifest split")->capture_default_str();
  sub.add_option("--out", e->out, "write the evaluation JSON here (docs/RUNS.md)");
  sub.add_option("--predictions", e->predictions, "also write per-sample probabilities as CSV");
  sub.add_option("--weights", e->weights, "other weights of the same run (e.g. RUN/best.safetensors)");
  sub.add_option("--bootstrap", e->bootstrap, "bootstrap replicates for the CIs (0: none)")->capture_default_str();
  sub.add_option("--seed", e->seed, "bootstrap seed")->capture_default_str();
  sub.add_option("--batch-size", e->batch_size)->capture_default_str();
  add_device_option(sub, e->device);
  return [e]() {
    nlohmann::json r = train::run_evaluation(*e);
    nlohmann::json summary = {{"task", r.value("task", "")}, {"split", e->split}, {"n", r.value("n", 0)}};
    for (auto& [name, m] : r["metrics"].items()) summary["metrics"][name] = m["value"];
    std::printf("%s\n", summary.dump().c_str());
    return kExitOk;
  };
}

CommandRegistration eval_registration("eval", "evaluate a trained run on a manifest split (AUCs, F1, bootstrap CIs)", setup_eval);

}  // namespace
}  // namespace cxr::apps
