// run_files.cpp — see run_files.h. JSON is parsed with nlohmann::ordered_json (file key order is
// kept for display); every accessor checks the type and names file and key when it is wrong.
#include "runs/run_files.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "runs/run_dir.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace cxr::runs {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

const Json* member(const Json& object, const std::string& key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

void require_object(const Json& v, const std::string& where) {
  CXR_CHECK(v.is_object(), where, ": expected a JSON object, got ", v.type_name());
}

// A number, or NaN for null.
double number_or_null(const Json& v, const std::string& where) {
  if (v.is_null()) return NAN;
  CXR_CHECK(v.is_number(), where, ": expected a number or null, got ", v.type_name(), " ", v.dump());
  return v.get<double>();
}

std::string string_value(const Json& v, const std::string& where) {
  CXR_CHECK(v.is_string(), where, ": expected a string, got ", v.type_name(), " ", v.dump());
  return v.get<std::string>();
}

// Optional members: the fallback when absent, the checked value otherwise.
std::string optional_string(const Json& object, const std::string& key, const std::string& where,
                            const std::string& fallback = "") {
  const Json* v = member(object, key);
  return v ? string_value(*v, where + ": " + key) : fallback;
}
double optional_number(const Json& object, const std::string& key, const std::string& where) {
  const Json* v = member(object, key);
  return v ? number_or_null(*v, where + ": " + key) : NAN;
}
int64_t optional_integer(const Json& object, const std::string& key, const std::string& where, int64_t fallback) {
  const Json* v = member(object, key);
  return v && !v->is_null() ? json_integer(*v, where + ": " + key) : fallback;
}

// {"value": v, "ci_low": a, "ci_high": b} or a bare number / null.
MetricValue metric_value(const Json& v, const std::string& where) {
  MetricValue m;
  if (!v.is_object()) {
    m.value = number_or_null(v, where);
    return m;
  }
  const Json* value = member(v, "value");
  CXR_CHECK(value, where, ": has no \"value\"");
  m.value = number_or_null(*value, where + ".value");
  m.ci_low = optional_number(v, "ci_low", where);
  m.ci_high = optional_number(v, "ci_high", where);
  return m;
}

// A JSON object of name -> number or null.
std::map<std::string, double> number_map(const Json& v, const std::string& where) {
  require_object(v, where);
  std::map<std::string, double> out;
  for (const auto& [key, value] : v.items()) {
    // Validation values may also be written in the eval schema's {"value": ...} form.
    out[key] =
        value.is_object() ? metric_value(value, where + "." + key).value : number_or_null(value, where + "." + key);
  }
  return out;
}

std::vector<double> number_array(const Json& v, const std::string& where) {
  CXR_CHECK(v.is_array(), where, ": expected an array of numbers, got ", v.type_name());
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i) {
    CXR_CHECK(v[i].is_number(), where, "[", i, "]: expected a number, got ", v[i].type_name());
    out.push_back(v[i].get<double>());
  }
  return out;
}

std::vector<int64_t> count_array(const Json& v, const std::string& where) {
  CXR_CHECK(v.is_array(), where, ": expected an array of counts, got ", v.type_name());
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t c = json_integer(v[i], where + "[" + std::to_string(i) + "]");
    CXR_CHECK(c >= 0, where, "[", i, "]: negative count ", c);
    out.push_back(c);
  }
  return out;
}

// A JSON file holding an object (in the file's key order).
Json read_object_file(const std::string& path) {
  Json j = read_json_file<Json>(path);
  require_object(j, path);
  return j;
}

std::string display(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

const MetricValue* EvalResult::metric(const std::string& name) const {
  for (const auto& [key, value] : metrics)
    if (key == name) return &value;
  return nullptr;
}

ConfigListing read_config_listing(const std::string& path) {
  const Json j = read_object_file(path);
  ConfigListing c;
  c.method = optional_string(j, "method", path);
  c.arch = optional_string(j, "arch", path);
  c.task = optional_string(j, "task", path);
  for (const char* key : {"image_size", "num_outputs", "seed"}) optional_integer(j, key, path, 0);  // type check
  for (const auto& [key, value] : j.items()) {
    if (key == "options") {
      require_object(value, path + ": options");
      for (const auto& [k, v] : value.items()) c.options.emplace_back(k, display(v));
      continue;
    }
    if (key == "text_model" && value.is_object()) {  // one row per member: text_model.max_seq_length ...
      for (const auto& [k, v] : value.items()) c.fields.emplace_back("text_model." + k, display(v));
      continue;
    }
    c.fields.emplace_back(key, display(value));
  }
  return c;
}

TrainingLog read_metrics_log(const std::string& path) {
  std::string text = read_file(path);
  TrainingLog log;
  size_t start = 0;
  int64_t line_number = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    bool last_unterminated = end == std::string::npos;
    if (last_unterminated) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string where = path + ":" + std::to_string(line_number);
    Json j;
    try {
      j = Json::parse(line);
    } catch (const Json::exception& e) {
      if (last_unterminated) {
        log.notes.push_back("line " + std::to_string(line_number) +
                            " of metrics.jsonl is incomplete (the run was interrupted or is still writing) and was "
                            "ignored");
        break;
      }
      fail(where, ": invalid JSON: ", e.what());
    }
    require_object(j, where);
    const Json* event = member(j, "event");
    CXR_CHECK(event, where, ": no \"event\" field");
    std::string kind = string_value(*event, where + ": event");
    if (kind == "step") {
      StepRecord r;
      const Json* step = member(j, "step");
      CXR_CHECK(step, where, ": a step event without \"step\"");
      r.step = json_integer(*step, where + ": step");
      r.epoch = optional_integer(j, "epoch", where, -1);
      r.loss = optional_number(j, "loss", where);
      r.lr = optional_number(j, "lr", where);
      r.elapsed_s = optional_number(j, "elapsed_s", where);
      if (const Json* parts = member(j, "parts")) r.parts = number_map(*parts, where + ": parts");
      log.steps.push_back(std::move(r));
    } else if (kind == "epoch") {
      EpochRecord r;
      const Json* epoch = member(j, "epoch");
      CXR_CHECK(epoch, where, ": an epoch event without \"epoch\"");
      r.epoch = json_integer(*epoch, where + ": epoch");
      r.step = optional_integer(j, "step", where, -1);
      r.elapsed_s = optional_number(j, "elapsed_s", where);
      r.train_loss = optional_number(j, "train_loss", where);
      if (const Json* val = member(j, "val"); val && !val->is_null()) r.val = number_map(*val, where + ": val");
      log.epochs.push_back(std::move(r));
    } else if (kind == "stop") {
      StopRecord r;
      r.reason = optional_string(j, "reason", where, "unknown");
      r.detail = optional_string(j, "detail", where);
      r.step = optional_integer(j, "step", where, -1);
      log.stop = r;
    }  // other kinds: written by newer trainers, not shown
  }
  return log;
}

EvalResult read_eval(const std::string& path) {
  const Json j = read_object_file(path);
  EvalResult r;
  r.file = path;
  const std::string stem = fs::path(path).stem().string();
  const std::string_view prefix = RunPaths::kEvalPrefix;
  r.split = optional_string(j, "split", path, stem.starts_with(prefix) ? stem.substr(prefix.size()) : stem);
  r.task = optional_string(j, "task", path);
  r.kind = optional_string(j, "kind", path);
  r.n = optional_integer(j, "n", path, -1);
  if (const Json* counts = member(j, "class_counts")) r.class_counts = count_array(*counts, path + ": class_counts");
  const Json* metrics = member(j, "metrics");
  CXR_CHECK(metrics, path, ": no \"metrics\" object");
  require_object(*metrics, path + ": metrics");
  for (const auto& [name, value] : metrics->items())
    r.metrics.emplace_back(name, metric_value(value, path + ": metrics." + name));
  if (const Json* roc = member(j, "roc"); roc && !roc->is_null()) {
    require_object(*roc, path + ": roc");
    for (const auto& [name, curve] : roc->items()) {
      std::string where = path + ": roc." + name;
      if (curve.is_null()) continue;  // an undefined AUC (one class present) has no curve
      require_object(curve, where);
      const Json* fpr = member(curve, "fpr");
      const Json* tpr = member(curve, "tpr");
      CXR_CHECK(fpr && tpr, where, ": needs \"fpr\" and \"tpr\" arrays");
      RocPoints p{number_array(*fpr, where + ".fpr"), number_array(*tpr, where + ".tpr")};
      CXR_CHECK(p.fpr.size() == p.tpr.size(), where, ": fpr has ", p.fpr.size(), " points but tpr has ", p.tpr.size());
      for (size_t i = 0; i < p.fpr.size(); ++i)
        CXR_CHECK(p.fpr[i] >= 0 && p.fpr[i] <= 1 && p.tpr[i] >= 0 && p.tpr[i] <= 1, where, ": point ", i, " (fpr ",
                  p.fpr[i], ", tpr ", p.tpr[i], ") lies outside [0, 1]");
      r.roc[name] = std::move(p);
    }
  }
  if (const Json* confusion = member(j, "confusion"); confusion && !confusion->is_null()) {
    std::string where = path + ": confusion";
    CXR_CHECK(confusion->is_array() && !confusion->empty(), where, ": expected a non-empty array of rows");
    for (size_t i = 0; i < confusion->size(); ++i)
      r.confusion.push_back(count_array((*confusion)[i], where + "[" + std::to_string(i) + "]"));
    for (size_t i = 0; i < r.confusion.size(); ++i)
      CXR_CHECK(r.confusion[i].size() == r.confusion.size(), where, ": row ", i, " has ", r.confusion[i].size(),
                " columns; a confusion matrix of ", r.confusion.size(), " classes is square");
  }
  if (const Json* bootstrap = member(j, "bootstrap"); bootstrap && !bootstrap->is_null()) {
    require_object(*bootstrap, path + ": bootstrap");
    r.bootstrap_replicates = optional_integer(*bootstrap, "replicates", path + ": bootstrap", -1);
    r.bootstrap_level = optional_number(*bootstrap, "level", path + ": bootstrap");
  }
  return r;
}

RunFiles read_run(const std::string& dir) {
  std::error_code ec;
  CXR_CHECK(fs::is_directory(dir, ec), dir, ": not a directory");
  RunFiles run;
  run.dir = dir;
  const RunPaths paths(dir);
  std::vector<std::string> eval_files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(RunPaths::kEvalPrefix) && entry.path().extension() == ".json" && entry.is_regular_file())
      eval_files.push_back(entry.path().string());
  }
  CXR_CHECK(!ec, dir, ": cannot list the directory: ", ec.message());
  std::sort(eval_files.begin(), eval_files.end());
  bool has_config = fs::exists(paths.config()), has_log = fs::exists(paths.metrics());
  CXR_CHECK(has_config || has_log || !eval_files.empty(), dir,
            ": not a run directory (none of config.json, metrics.jsonl, eval-*.json) and not an experiment "
            "directory (no table.json)");
  if (has_config) run.config = read_config_listing(paths.config());
  if (has_log) run.log = read_metrics_log(paths.metrics());
  for (const auto& f : eval_files) run.evals.push_back(read_eval(f));

  const std::string explain = paths.explain_dir();
  if (fs::is_directory(explain, ec)) {
    std::map<std::string, ExplainItem> items;
    const std::string png_suffix = RunPaths::kGradcamPngSuffix, json_suffix = RunPaths::kGradcamJsonSuffix,
                      html_suffix = RunPaths::kAttentionHtmlSuffix;
    for (const auto& entry : fs::directory_iterator(explain, ec)) {
      if (!entry.is_regular_file()) continue;
      std::string name = entry.path().filename().string();
      auto ends_with = [&](const std::string& suffix) {
        return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      if (ends_with(png_suffix)) {
        std::string id = name.substr(0, name.size() - png_suffix.size());
        items[id].id = id;
        items[id].gradcam_png = entry.path().string();
      } else if (ends_with(json_suffix)) {
        std::string id = name.substr(0, name.size() - json_suffix.size());
        items[id].id = id;
        items[id].gradcam_json = entry.path().string();
      } else if (ends_with(html_suffix)) {
        std::string id = name.substr(0, name.size() - html_suffix.size());
        items[id].id = id;
        items[id].attention_html = entry.path().string();
      }
    }
    CXR_CHECK(!ec, explain, ": cannot list the directory: ", ec.message());
    for (auto& [id, item] : items) run.explain.push_back(std::move(item));
  }
  return run;
}

GradcamInfo read_gradcam_json(const std::string& path) {
  const Json j = read_object_file(path);
  GradcamInfo g;
  g.input = optional_string(j, "input", path);
  g.layer = optional_string(j, "layer", path);
  g.probability_kind = optional_string(j, "probability_kind", path);
  g.target = optional_integer(j, "target", path, -1);
  if (const Json* p = member(j, "probabilities"); p && !p->is_null()) {
    CXR_CHECK(p->is_array(), path, ": probabilities: expected an array, got ", p->type_name());
    for (size_t i = 0; i < p->size(); ++i)
      g.probabilities.push_back(number_or_null((*p)[i], path + ": probabilities[" + std::to_string(i) + "]"));
  }
  return g;
}

ExperimentTable read_experiment_table(const std::string& path) {
  const Json j = read_object_file(path);
  ExperimentTable t;
  t.labeled_fraction = optional_number(j, "labeled_fraction", path);
  if (const Json* tasks = member(j, "tasks")) {
    CXR_CHECK(tasks->is_array(), path, ": tasks: expected an array of strings, got ", tasks->type_name());
    for (size_t i = 0; i < tasks->size(); ++i)
      t.tasks.push_back(string_value((*tasks)[i], path + ": tasks[" + std::to_string(i) + "]"));
  }
  const Json* rows = member(j, "rows");
  CXR_CHECK(rows && rows->is_array(), path, ": needs a \"rows\" array");
  std::set<std::tuple<std::string, std::string, std::string, std::string>> seen;
  for (size_t i = 0; i < rows->size(); ++i) {
    std::string where = path + ": rows[" + std::to_string(i) + "]";
    const Json& row = (*rows)[i];
    require_object(row, where);
    TableRow r;
    const Json* method = member(row, "method");
    const Json* task = member(row, "task");
    CXR_CHECK(method && task, where, ": needs \"method\" and \"task\"");
    r.method = string_value(*method, where + ": method");
    r.task = string_value(*task, where + ": task");
    r.encoder = optional_string(row, "encoder", where, "n/a");
    r.bound = optional_string(row, "bound", where, "n/a");
    r.run = optional_string(row, "run", where);
    if (!r.run.empty()) {
      fs::path run_path(r.run);
      bool escapes = run_path.is_absolute();
      for (const auto& part : run_path) escapes = escapes || part == "..";
      CXR_CHECK(!escapes, where, ": run path '", r.run, "' must be relative and stay inside the experiment directory");
    }
    if (const Json* metrics = member(row, "metrics")) {
      require_object(*metrics, where + ": metrics");
      for (const auto& [name, value] : metrics->items())
        r.metrics[name] = metric_value(value, where + ": metrics." + name);
    }
    CXR_CHECK(seen.insert({r.method, r.encoder, r.bound, r.task}).second, where, ": a second row for method '",
              r.method, "', encoder '", r.encoder, "', bound '", r.bound, "', task '", r.task, "'");
    if (std::find(t.tasks.begin(), t.tasks.end(), r.task) == t.tasks.end()) t.tasks.push_back(r.task);
    t.rows.push_back(std::move(r));
  }
  return t;
}

}  // namespace cxr::runs
