// trainer.cpp — see trainer.h.
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "autograd/node.h"
#include "data/loader.h"
#include "nn/checkpoint.h"
#include "ops/ops.h"
#include "tensor/cpu/runtime.h"
#include "text/csv.h"
#include "text/findings.h"
#include "train/method.h"
#include "train/progress.h"
#include "train/run.h"

namespace cxr::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// "reports/s123.txt" -> "s123": how a labeler's CSV row finds its manifest row.
std::string report_key(const std::string& path) { return fs::path(path).stem().string(); }

std::string strip_spaces(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ') out += c;
  return out;
}

int parse_label(const std::string& value, const std::string& where) {
  if (value.empty()) return -2;
  try {
    size_t used = 0;
    const double v = std::stod(value, &used);
    if (used == value.size() && v == std::floor(v)) return int(v);
  } catch (const std::exception&) {
  }
  fail(where, ": not an integer label: '", value, "'");
}

bool in_splits(const data::ManifestRow& row, const std::vector<std::string>& splits) {
  for (auto& s : splits)
    if (row.split == s) return true;
  return false;
}

// Replaces the training rows' labels by those of a `cxr label` CSV, matched on the manifest id or on
// the report file name without its extension.
void apply_label_csv(data::Manifest& m, const TrainOptions& o, const std::string& path, bool edema) {
  text::CsvTable t = text::read_csv(path);
  const int64_t key_col = t.require_column("report");
  std::map<std::string, size_t> by_key;
  for (size_t r = 0; r < t.rows.size(); ++r) by_key[report_key(t.rows[r][size_t(key_col)])] = r;
  std::vector<int64_t> columns;
  if (edema) {
    columns.push_back(t.require_column("label"));
  } else {
    for (auto* name : data::kChexpertNames) {
      int64_t c = -1;
      for (size_t h = 0; h < t.header.size(); ++h)
        if (strip_spaces(t.header[h]) == name) c = int64_t(h);
      CXR_CHECK(c >= 0, path, ": no column for the finding ", name);
      columns.push_back(c);
    }
  }
  int64_t matched = 0, training = 0;
  for (auto& row : m.rows) {
    if (!in_splits(row, o.train_splits)) continue;
    ++training;
    auto it = by_key.find(row.id);  // `cxr label --csv M.csv --id-column id`
    if (it == by_key.end()) it = by_key.find(report_key(row.report));  // `cxr label ... DIR/reports`
    if (edema) row.edema = -1;
    else row.chexpert.fill(-2);
    if (it == by_key.end()) continue;
    ++matched;
    const auto& fields = t.rows[it->second];
    if (edema) {
      const int v = parse_label(fields[size_t(columns[0])], t.where(it->second));
      CXR_CHECK(v >= -1 && v <= 3, t.where(it->second), ": edema label ", v, " outside -1..3");
      row.edema = v;
    } else {
      for (size_t c = 0; c < columns.size(); ++c) {
        const int v = parse_label(fields[size_t(columns[c])], t.where(it->second));
        CXR_CHECK(v >= -2 && v <= 1, t.where(it->second), ": finding label ", v, " outside -2..1");
        row.chexpert[c] = v;
      }
    }
  }
  CXR_CHECK(training == 0 || matched > 0, path, ": no training row's id or report file name matches a 'report' entry");
}

// A value in [0, 1) from the patient id alone: which patients keep their labels.
double patient_draw(const std::string& patient, uint64_t seed) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : patient) h = (h ^ c) * 1099511628211ull;
  return Generator(seed * 1000003 + 31).uniform(h);
}

std::string exit_message_for_non_finite(const StepOutput& out, int64_t step, int64_t epoch) {
  std::string what;
  for (auto& [name, t] : out.parts)
    if (t.defined() && !std::isfinite(t.item())) {
      what = name;
      break;
    }
  std::string tensor;
  for (auto& [name, t] : out.outputs) {
    if (!t.defined()) continue;
    for (double v : t.to_vector())
      if (!std::isfinite(v)) {
        tensor = name + " has " + (std::isnan(v) ? "nan" : "inf") + " values";
        break;
      }
    if (!tensor.empty()) break;
  }
  std::string msg = "non-finite loss (" + std::to_string(out.loss.item()) + ") at step " + std::to_string(step) +
                    " of epoch " + std::to_string(epoch);
  if (!what.empty()) msg += ": loss term '" + what + "' is not finite";
  msg += tensor.empty() ? "; the model's outputs are finite" : "; tensor: " + tensor;
  return msg + " (lower --lr? the run directory keeps the last completed epoch's checkpoint)";
}

// Options that may change between a run and its resumption (they do not change the results).
const std::set<std::string> kRunControlOptions = {"resume", "threads", "workers", "progress", "log_every", "out"};

void check_resumable(const nlohmann::json& saved, const nlohmann::json& now, const std::string& where) {
  for (auto& [key, value] : now.items()) {
    if (kRunControlOptions.count(key)) continue;
    CXR_CHECK(saved.contains(key) && saved[key] == value, where, ": cannot resume with a different --",
              key, " (the run has ", saved.contains(key) ? saved[key].dump() : "none", ", now ", value.dump(), ")");
  }
}

data::LoaderOptions eval_loader_options(const Task& task, const std::string& split, int64_t size, int64_t resize,
                                        int64_t batch, int64_t workers) {
  data::LoaderOptions lo;
  lo.batch_size = batch, lo.shuffle = false, lo.drop_last = false, lo.workers = workers;
  lo.splits = {split};
  lo.filter = [task](const data::ManifestRow& r) { return task.labelled(r); };
  lo.transform = data::resized(resize, data::eval_transform(size));
  return lo;
}

// Predictions of a method over a loader's rows (eval mode, no gradient). `column` >= 0 picks one
// output of a multi-finding model.
PredictionSet predict(Method& method, data::Loader& loader, const Task& task, int64_t column = -1) {
  PredictionSet set(task);
  NoGradGuard no_grad;
  method.models->eval();
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    Tensor logits = method.predict_logits(*batch);
    if (column >= 0) logits = logits.narrow(1, column, 1);
    set.add(*batch, logits);
  }
  return set;
}

void remove_epoch_files(const RunDirectory& run, int64_t epoch, const std::vector<ScheduledOptimizer>& optimizers) {
  std::error_code ec;
  fs::remove(run.file("state/model-epoch" + std::to_string(epoch) + ".safetensors"), ec);
  for (auto& o : optimizers)
    fs::remove(run.file("state/optimizer-" + o.name + "-epoch" + std::to_string(epoch) + ".safetensors"), ec);
}

}  // namespace

data::Manifest prepare_manifest(const TrainOptions& o) {
  data::Manifest m = data::read_manifest(o.manifest);
  if (!o.edema_labels.empty()) apply_label_csv(m, o, o.edema_labels, /*edema=*/true);
  if (!o.findings_labels.empty()) apply_label_csv(m, o, o.findings_labels, /*edema=*/false);
  if (o.labeled_fraction < 1) {
    const Task score_task = Task::parse(o.task);
    for (auto& row : m.rows) {
      if (!in_splits(row, o.train_splits)) continue;
      const std::string patient = row.patient_id.empty() ? row.id : row.patient_id;
      if (patient_draw(patient, o.seed) >= o.labeled_fraction) {
        row.edema = -1;
        row.chexpert.fill(-2);
        if (score_task.kind == TaskKind::Score && row.extra.count(score_task.column)) row.extra[score_task.column] = "";
      }
    }
  }
  return m;
}

nlohmann::json run_training(TrainOptions o) {
  o.resolve_defaults();
  o.validate();
  cpu::set_num_threads(o.threads);
  const auto t_start = Clock::now();

  data::Manifest manifest = prepare_manifest(o);
  std::unique_ptr<Method> method = make_method(o, /*for_training=*/true);
  method->task.bind(manifest);
  RunDirectory run(o.out);
  nlohmann::json options_json = o;

  TrainerState state;
  if (o.resume) {
    CXR_CHECK(run.has_state(), o.out, ": nothing to resume (no state/trainer.json); start the run without --resume");
    check_resumable(run.read_config().at("options"), options_json, run.file("config.json"));
    state = run.read_state();
    const std::string e = std::to_string(state.epoch);
    nn::load_checkpoint(*method->models, run.file("state/model-epoch" + e + ".safetensors"), {});
    for (auto& opt : method->optimizers) opt.optimizer->load(run.file("state/optimizer-" + opt.name + "-epoch" + e + ".safetensors"));
    for (auto& [name, gen] : method->generators) {
      auto it = state.generators.find(name);
      CXR_CHECK(it != state.generators.end(), run.file("state/trainer.json"), ": no state for generator '", name, "'");
      gen->set_state(it->second.first, it->second.second);
    }
    run.open_metrics(state.metrics_bytes);
  } else {
    nlohmann::json config = method->config_fields();
    config["method"] = o.method, config["arch"] = o.arch, config["task"] = o.task, config["seed"] = o.seed;
    config["resize"] = o.resize;
    config["manifest"] = fs::absolute(o.manifest).string();
    config["options"] = options_json;
    method->prepare_run_directory(o.out);
    run.write_config(config);
    run.open_metrics(0);
  }

  data::LoaderOptions lo;
  lo.batch_size = o.batch_size, lo.shuffle = true, lo.drop_last = method->drop_last(), lo.seed = o.seed;
  lo.workers = o.workers, lo.splits = o.train_splits;
  lo.filter = [m = method.get()](const data::ManifestRow& r) { return m->trains_on(r); };
  lo.transform = data::resized(o.resize, method->train_transform());
  lo.load_reports = method->needs_reports();
  data::Loader loader(manifest, lo);
  std::string splits;
  for (auto& s : o.train_splits) splits += (splits.empty() ? "" : ",") + s;
  CXR_CHECK(loader.size() > 0, o.manifest, ": no rows to train on in split(s) ", splits,
            method->predicts() ? " with a label for task " + o.task : "");
  const int64_t per_epoch = loader.batches_per_epoch();
  CXR_CHECK(per_epoch > 0, o.manifest, ": ", loader.size(), " training rows make no full batch of ", o.batch_size,
            " (this method drops the last incomplete batch)");
  int64_t total_steps = o.epochs * per_epoch;
  if (o.max_steps > 0) total_steps = std::min(total_steps, o.max_steps);

  std::unique_ptr<data::Loader> val_loader;
  if (method->predicts()) {
    val_loader = std::make_unique<data::Loader>(
        manifest, eval_loader_options(method->task, o.val_split, method->image_size(), o.resize, o.batch_size, o.workers));
    if (val_loader->size() == 0) val_loader.reset();
  }

  Progress progress(o.progress, o.log_every * 5);
  std::fprintf(stderr, "train %s: %lld rows, %lld steps per epoch, %lld epochs, %lld parameters (%lld trainable)\n",
               o.method.c_str(), (long long)loader.size(), (long long)per_epoch, (long long)o.epochs,
               (long long)method->models->num_parameters(), (long long)method->models->num_parameters(true));

  int64_t step = state.step;
  double elapsed_before = state.elapsed_s;
  for (int64_t epoch = state.epoch + 1; epoch <= o.epochs && step < total_steps; ++epoch) {
    loader.start_epoch(epoch);
    progress.start_epoch(epoch, o.epochs, std::min(per_epoch, total_steps - step));
    double window_loss = 0, epoch_loss = 0;
    std::map<std::string, double> window_parts;
    int64_t window = 0, in_epoch = 0;
    auto flush_window = [&]() {
      if (window == 0) return;
      nlohmann::json ev = {{"event", "step"},
                           {"epoch", epoch},
                           {"step", step},
                           {"loss", window_loss / double(window)},
                           {"lr", method->optimizers.empty() ? 0.0 : method->optimizers[0].optimizer->groups()[0].lr},
                           {"elapsed_s", elapsed_before + std::chrono::duration<double>(Clock::now() - t_start).count()}};
      for (auto& [k, v] : window_parts) ev["parts"][k] = v / double(window);
      run.log(ev);
      window_loss = 0, window = 0, window_parts.clear();
    };
    while (step < total_steps) {
      std::optional<data::Batch> batch = loader.next();
      if (!batch) break;
      method->models->train();
      method->zero_grad();
      StepOutput out = method->loss(*batch);
      if (!out.loss.defined()) continue;  // nothing labelled in this batch
      const double loss_value = out.loss.item();
      if (!std::isfinite(loss_value)) {
        flush_window();
        const std::string msg = exit_message_for_non_finite(out, step + 1, epoch);
        run.log({{"event", "stop"}, {"reason", "non-finite loss"}, {"step", step + 1}, {"detail", msg}});
        throw NonFiniteLoss(msg);
      }
      out.loss.backward();
      method->step(step, total_steps);
      ++step, ++in_epoch, ++window;
      window_loss += loss_value, epoch_loss += loss_value;
      for (auto& [k, t] : out.parts) window_parts[k] += t.item();
      if (window >= o.log_every) flush_window();
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4f", loss_value);
      progress.update(in_epoch, status);
    }
    flush_window();

    // ---- end of epoch: validation, checkpoint ----
    nlohmann::json ev = {{"event", "epoch"}, {"epoch", epoch}, {"step", step},
                         {"train_loss", in_epoch ? epoch_loss / double(in_epoch) : NAN}};
    std::string summary = "loss " + std::to_string(in_epoch ? epoch_loss / double(in_epoch) : NAN);
    double score = NAN;
    if (val_loader) {
      nlohmann::json val = predict(*method, *val_loader, method->task).evaluate(0, o.seed);
      for (auto& [name, m] : val["metrics"].items()) ev["val"][name] = m["value"];
      const std::string headline = headline_metric(method->task);
      if (val["metrics"].contains(headline) && val["metrics"][headline]["value"].is_number())
        score = val["metrics"][headline]["value"].get<double>();
      summary += "  val " + headline + " " + (std::isfinite(score) ? std::to_string(score) : std::string("n/a"));
    }
    const double elapsed = elapsed_before + std::chrono::duration<double>(Clock::now() - t_start).count();
    ev["elapsed_s"] = elapsed;
    run.log(ev);

    const std::string e = std::to_string(epoch);
    nn::save_checkpoint(*method->models, run.file("state/model-epoch" + e + ".safetensors"));
    for (auto& opt : method->optimizers) opt.optimizer->save(run.file("state/optimizer-" + opt.name + "-epoch" + e + ".safetensors"));
    const int64_t previous = state.epoch;
    state.epoch = epoch, state.step = step, state.metrics_bytes = run.metrics_bytes(), state.elapsed_s = elapsed;
    if (std::isfinite(score) && score > state.best_score) {
      state.best_score = score, state.best_epoch = epoch;
      nn::save_checkpoint(*method->models, run.file("best.safetensors"));
    }
    state.generators.clear();
    for (auto& [name, gen] : method->generators) state.generators[name] = {gen->seed(), gen->offset()};
    run.write_state(state);  // the commit point: from here on a resume starts after this epoch
    if (previous > 0) remove_epoch_files(run, previous, method->optimizers);
    nn::save_checkpoint(*method->models, run.file("model.safetensors"));
    progress.end_epoch(summary);
  }

  // ---- final evaluation on the held-out splits ----
  nlohmann::json test_result;
  if (method->predicts()) {
    for (const std::string& split : {o.val_split, o.test_split}) {
      data::Loader l(manifest, eval_loader_options(method->task, split, method->image_size(), o.resize, o.batch_size, o.workers));
      if (l.size() == 0) continue;
      PredictionSet p = predict(*method, l, method->task);
      nlohmann::json result = p.evaluate(o.bootstrap, o.seed);
      result["split"] = split;
      write_json_file(run.file("eval-" + split + ".json"), result);
      p.write_csv(run.file("predictions-" + split + ".csv"));
      if (split == o.test_split) test_result = result;
    }
  }
  return test_result;
}

nlohmann::json run_evaluation(const EvalOptions& e) {
  std::unique_ptr<Method> method = load_trained_method(e.run_dir, e.weights);
  const Task trained = method->task;
  Task task = e.task.empty() ? trained : Task::parse(e.task);
  int64_t column = -1;
  if (task.name != trained.name) {
    CXR_CHECK(trained.kind == TaskKind::Findings && task.kind == TaskKind::Finding, e.run_dir,
              ": the model was trained for task '", trained.name, "', not '", task.name, "'");
    column = task.finding;
  }
  data::Manifest manifest = data::read_manifest(e.manifest);
  task.bind(manifest);
  data::Loader loader(manifest, eval_loader_options(task, e.split, method->image_size(), method->options.resize, e.batch_size, e.workers));
  CXR_CHECK(loader.size() > 0, e.manifest, ": no rows in split '", e.split, "' with a label for task ", task.name);
  PredictionSet p = predict(*method, loader, task, column);
  nlohmann::json result = p.evaluate(e.bootstrap, e.seed);
  result["split"] = e.split;
  result["checkpoint"] = e.run_dir;
  if (!e.out.empty()) write_json_file(e.out, result);
  if (!e.predictions.empty()) p.write_csv(e.predictions);
  return result;
}

}  // namespace cxr::train
