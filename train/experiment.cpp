// experiment.cpp — see experiment.h.
#include "train/experiment.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "cuda/runtime.h"
#include "eval/metrics.h"
#include "runs/run_dir.h"
#include "tensor/file_io.h"
#include "train/progress.h"
#include "train/task.h"
#include "train/trainer.h"

namespace cxr::train {
namespace {

namespace fs = std::filesystem;

struct Cell {
  std::string name;        // run directory name
  std::string method;      // image-only | global-mi | local-mi
  std::string encoder;     // n/a | frozen | tuned
  std::string bound;       // n/a | infonce | dv
  std::string task;
  TrainOptions options;
};

// The metrics of a task shown in the table.
std::vector<std::pair<std::string, std::string>> table_metrics(const std::string& task, const nlohmann::json& rows) {
  if (task == "edema") return {{"auc_0v123", "0 vs 1,2,3"}, {"auc_01v23", "0,1 vs 2,3"}, {"auc_012v3", "0,1,2 vs 3"}};
  if (task.starts_with("score:")) return {{"pearson", task + " Pearson r"}, {"mae", task + " MAE"}};
  if (task != "findings") return {{"auc", task}};
  std::vector<std::pair<std::string, std::string>> out;
  // The findings of the talk's table (the reference's eval_all_tasks), where some row has a value.
  for (const char* f : {"Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "LungOpacity", "PleuralEffusion",
                        "Pneumonia", "Pneumothorax", "SupportDevices"}) {
    const std::string key = std::string("auc_") + f;
    bool any = false;
    for (auto& r : rows)
      if (r["task"] == task && r["metrics"].contains(key) && r["metrics"][key]["value"].is_number()) any = true;
    if (any) out.push_back({key, f});
  }
  return out;
}

std::string cell_text(const nlohmann::json& row, const std::string& metric) {
  if (!row["metrics"].contains(metric)) return "–";
  return eval::format_with_ci(row["metrics"][metric], 2);
}

}  // namespace

nlohmann::json run_experiment(const ExperimentOptions& e) {
  CXR_CHECK(!e.manifest.empty() && !e.out.empty(), "experiment: --manifest and --out are required");
  cuda::select_device(e.base.device, "experiment");  // every run of the grid trains there
  const runs::ExperimentPaths dir(e.out);
  fs::create_directories(dir.runs_dir());
  auto t0 = std::chrono::steady_clock::now();

  // ---- the plan ----
  std::vector<Cell> pretraining, downstream;
  for (auto& level : e.levels)
    for (auto& bound : e.bounds) {
      Cell c{level + "-mi-" + bound, level + "-mi", "n/a", bound, "", e.base};
      c.options.method = "mi", c.options.mi_level = level, c.options.bound = bound;
      c.options.epochs = e.pretrain_epochs, c.options.batch_size = e.pretrain_batch_size;
      c.options.max_steps = e.pretrain_max_steps, c.options.labeled_fraction = 1;
      pretraining.push_back(c);
    }
  for (auto& task : e.tasks) {
    TrainOptions d = e.base;
    d.task = task, d.epochs = e.downstream_epochs, d.batch_size = e.downstream_batch_size;
    d.max_steps = e.downstream_max_steps;
    if (e.image_only) {
      Cell c{"image-only-" + task, "image-only", "n/a", "n/a", task, d};
      c.options.method = "image";
      downstream.push_back(c);
    }
    for (auto& p : pretraining)
      for (auto& encoder : e.encoders) {
        Cell c{p.name + "-" + encoder + "-" + task, p.method, encoder, p.bound, task, d};
        c.options.method = "finetune", c.options.init = dir.run(p.name).dir(), c.options.encoder = encoder;
        downstream.push_back(c);
      }
  }

  // ---- the runs ----
  const size_t total = pretraining.size() + downstream.size();
  size_t done = 0;
  auto run_cell = [&](Cell& c) {
    ++done;
    const runs::RunPaths run = dir.run(c.name);
    c.options.out = run.dir();
    c.options.manifest = e.manifest;
    if (fs::exists(run.done_marker())) {
      std::fprintf(stderr, "[experiment %zu/%zu] %s: done before, kept\n", done, total, c.name.c_str());
      return;
    }
    std::fprintf(stderr, "[experiment %zu/%zu] %s (%s)  elapsed %s\n", done, total, c.name.c_str(),
                 c.options.method.c_str(),
                 Progress::format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()).c_str());
    fs::remove_all(c.options.out);  // an unfinished run starts over
    run_training(c.options);
    write_file_atomic(run.done_marker(), "");
  };
  for (auto& c : pretraining) run_cell(c);
  for (auto& c : downstream) run_cell(c);

  // ---- the table ----
  nlohmann::json table = {{"labeled_fraction", e.base.labeled_fraction}, {"tasks", e.tasks}, {"rows", nlohmann::json::array()}};
  table["manifest"] = fs::absolute(e.manifest).string();
  table["arch"] = e.base.arch;
  for (auto& c : downstream) {
    const std::string eval_file = dir.run(c.name).eval(c.options.test_split);
    nlohmann::json eval = runs::read_json_file(eval_file);
    const int64_t n = eval.contains("n") ? runs::json_integer(eval["n"], eval_file + ": n") : 0;
    table["rows"].push_back({{"method", c.method}, {"encoder", c.encoder}, {"bound", c.bound}, {"task", c.task},
                             {"run", runs::ExperimentPaths::run_entry(c.name)}, {"n", n},
                             {"metrics", eval["metrics"]}});
  }
  table["elapsed_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  runs::write_json_file(dir.table_json(), table);
  write_file_atomic(dir.table_markdown(), experiment_table_markdown(table));
  return table;
}

std::string experiment_table_markdown(const nlohmann::json& table) {
  std::string md;
  const auto& rows = table["rows"];
  for (auto& task_json : table["tasks"]) {
    const std::string task = task_json.get<std::string>();
    const auto metrics = table_metrics(task, rows);
    md += "### " + (task == "edema" ? std::string("Edema severity (ordinal AUCs)") : task == "findings" ? std::string("CheXpert findings (AUC, CPC / MINE)") : task) + "\n\n";
    md += "| Method | Encoder |";
    std::string rule = "|---|---|";
    for (auto& [key, label] : metrics) {
      md += task == "edema" ? " " + label + " CPC | MINE |" : " " + label + " |";
      rule += task == "edema" ? "---|---|" : "---|";
    }
    md += "\n" + rule + "\n";
    // One line per (method, encoder); CPC and MINE side by side.
    std::vector<std::pair<std::string, std::string>> lines;
    for (auto& r : rows) {
      if (r["task"] != task) continue;
      std::pair<std::string, std::string> key = {r["method"], r["encoder"]};
      if (std::find(lines.begin(), lines.end(), key) == lines.end()) lines.push_back(key);
    }
    for (auto& [method, encoder] : lines) {
      const nlohmann::json* by_bound[2] = {nullptr, nullptr};  // CPC, MINE
      for (auto& r : rows)
        if (r["task"] == task && r["method"] == method && r["encoder"] == encoder)
          by_bound[r["bound"] == "dv" ? 1 : 0] = &r;
      md += "| " + method + " | " + encoder + " |";
      for (auto& [key, label] : metrics) {
        const std::string cpc = by_bound[0] ? cell_text(*by_bound[0], key) : "";
        const std::string mine = by_bound[1] ? cell_text(*by_bound[1], key) : "";
        if (task == "edema") md += " " + cpc + " | " + mine + " |";
        else md += " " + (mine.empty() ? cpc : cpc.empty() ? mine : cpc + " / " + mine) + " |";
      }
      md += "\n";
    }
    md += "\n";
  }
  char foot[160];
  std::snprintf(foot, sizeof foot, "Values: AUC on the test split (95%% bootstrap CI). Labelled fraction %.3g; %s.\n",
                table.value("labeled_fraction", 1.0), table.value("arch", std::string("?")).c_str());
  return md + foot;
}

}  // namespace cxr::train
