// trainer.cpp — see trainer.h.
#include "train/trainer.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "autograd/node.h"
#include "cuda/runtime.h"
#include "data/loader.h"
#include "dist/comm.h"
#include "dist/reducer.h"
#include "dist/sync_batch_norm.h"
#include "nn/checkpoint.h"
#include "ops/ops.h"
#include "runs/run_config.h"
#include "runs/run_dir.h"
#include "tensor/cpu/runtime.h"
#include "text/csv.h"
#include "text/findings.h"
#include "train/method.h"
#include "train/progress.h"

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
// A run may resume on another device: the checkpoint is the same on either. A data-parallel run
// may resume with another number of ranks (or as one process) if the global batch, --batch-size x
// ranks, stays the same (docs/DISTRIBUTED.md); --sync-bn may change with it (per-rank batch
// statistics then cover another number of samples).
const std::set<std::string> kRunControlOptions = {"resume",      "threads",      "workers",   "progress",
                                                  "log_every",   "out",          "device",    "distributed",
                                                  "world_size",  "sync_bn",      "bucket_mb", "dist_timeout"};

void check_resumable(const nlohmann::json& saved, const nlohmann::json& now, const std::string& where) {
  for (auto& [key, value] : now.items()) {
    if (kRunControlOptions.count(key)) continue;
    if (key == "batch_size" && saved.contains(key) && saved[key].is_number_integer()) {
      // config.json is read back from disk: range-checked before the products (no overflow).
      auto world = [&](const nlohmann::json& o) {
        return o.contains("world_size") ? runs::json_integer(o["world_size"], where + ": world_size") : int64_t(1);
      };
      const int64_t saved_ranks = world(saved), ranks = world(now);
      CXR_CHECK(saved_ranks >= 1 && saved_ranks <= (1 << 20) && saved[key].get<int64_t>() >= 1 &&
                    saved[key].get<int64_t>() <= (int64_t(1) << 40),
                where, ": batch_size ", saved[key].dump(), " x world_size ", saved_ranks, " is out of range");
      const int64_t saved_global = saved[key].get<int64_t>() * saved_ranks, global = value.get<int64_t>() * ranks;
      CXR_CHECK(saved_global == global, where, ": cannot resume with a different --batch-size (the run's global batch is ",
                saved_global, " = ", saved[key].get<int64_t>(), " x ", saved_ranks, " rank(s), now ", value.get<int64_t>(),
                " x ", ranks, ")");
      continue;
    }
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
    move_batch_to(*batch, method.device());
    Tensor logits = method.predict_logits(*batch);
    if (column >= 0) logits = logits.narrow(1, column, 1);
    set.add(*batch, logits);
  }
  return set;
}

// ---- data parallelism (docs/DISTRIBUTED.md) ----

// The ranks of a distributed run; comm null: a single process.
struct Parallel {
  dist::Communicator* comm = nullptr;
  std::unique_ptr<dist::GradientReducer> reducer;
  int rank() const { return comm ? comm->rank() : 0; }
  int size() const { return comm ? comm->size() : 1; }
  bool writer() const { return rank() == 0; }  // rank 0 alone writes the run directory
  explicit operator bool() const { return comm != nullptr; }
};

// A loader's rows shared among the ranks: for training, shards of equal length; for evaluation,
// every row once (shards may differ by one).
void shard(data::LoaderOptions& lo, const Parallel& par, bool even) {
  lo.shard_rank = par.rank(), lo.shard_count = par.size(), lo.shard_even = even;
}

// predict() over every rank's shard, gathered at rank 0 in manifest row order (the order of one
// process); the other ranks get an empty set.
PredictionSet predict_all(Method& method, data::Loader& loader, const Task& task, const Parallel& par) {
  PredictionSet mine = predict(method, loader, task);
  if (!par) return mine;
  std::vector<std::string> shards = par.comm->gather(mine.serialize(), "evaluation: gathering predictions");
  PredictionSet all(task);
  for (auto& s : shards) all.merge(s);
  all.sort_by_row();
  return all;
}

// Rank 0's floating buffers (batch-norm running statistics) on every rank, as DDP's
// broadcast_buffers: without --sync-bn each rank's statistics follow its own batches, and the
// model rank 0 checkpoints is the one every rank evaluates. (A sum where the other ranks give 0:
// exact, float32 values travel as doubles.)
void broadcast_buffers(nn::Module& models, const Parallel& par) {
  std::vector<Tensor> buffers;
  std::vector<double> values;
  for (auto& [name, b] : models.named_buffers()) {
    if (!is_floating(b.dtype())) continue;
    buffers.push_back(b);
    std::vector<double> v = b.to_vector();
    if (par.rank() != 0) std::fill(v.begin(), v.end(), 0.0);
    values.insert(values.end(), v.begin(), v.end());
  }
  if (values.empty()) return;
  par.comm->sum(values.data(), int64_t(values.size()), "broadcasting batch-norm statistics");
  size_t at = 0;
  for (Tensor& b : buffers) {
    const std::vector<double> v(values.begin() + int64_t(at), values.begin() + int64_t(at) + b.numel());
    copy_(b, copy_to(from_vector(v, b.shape(), {.dtype = b.dtype()}), b.device()));
    at += size_t(b.numel());
  }
}

// FNV-1a over every parameter and buffer's bytes.
uint64_t state_hash(const nn::Module& models) {
  uint64_t h = 1469598103934665603ull;
  for (auto& [name, t] : models.state_dict()) {
    const Tensor host = contiguous_values(copy_to(t, Device::CPU));
    const auto* p = static_cast<const unsigned char*>(host.data_ptr());
    for (int64_t i = 0; i < host.numel() * int64_t(dtype_size(host.dtype())); ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  return h;
}

// Every rank must hold the same model: checked at the start and at every checkpoint (a difference
// is a bug, or ranks started with different options or files).
void check_same_model(const nn::Module& models, const Parallel& par, const std::string& when) {
  const std::vector<std::string> all = par.comm->all_gather(std::to_string(state_hash(models)), "comparing models");
  for (size_t r = 1; r < all.size(); ++r)
    CXR_CHECK(all[r] == all[0], "distributed training: ", when, ", the model of rank ", r,
              " differs from rank 0's (same --seed, options and files on every rank?)");
}

// On a rank whose batch has no labelled example while others have one, with --sync-bn: a zero loss
// through the outputs, so that this rank takes part in the batch-norm backward's sums too.
Tensor zero_loss(const StepOutput& out) {
  Tensor z;
  for (auto& [name, t] : out.outputs)
    if (t.defined() && t.requires_grad()) z = z.defined() ? z + sum(t) * 0.0 : sum(t) * 0.0;
  CXR_CHECK(z.defined(), "distributed training with --sync-bn: this rank's batch has no labelled example and the "
            "method names no output to backpropagate a zero loss through");
  return z;
}

// After the commit of epoch `epoch`: every other file in state/ goes. Besides the previous epoch's
// model and optimizers that is what a killed run can leave there: an older epoch's files (killed
// between a commit and this clean-up) and temporary files of an interrupted atomic write
// (*.tmp.<pid>, tensor/file_io.h). The run directory belongs to this one trainer.
void remove_stale_state(const runs::RunPaths& run, int64_t epoch, const std::vector<ScheduledOptimizer>& optimizers) {
  std::set<std::string> keep = {fs::path(run.trainer_state()).filename().string(),
                                fs::path(run.state_model(epoch)).filename().string()};
  for (auto& o : optimizers) keep.insert(fs::path(run.state_optimizer(o.name, epoch)).filename().string());
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(run.state_dir(), ec))
    if (entry.is_regular_file() && !keep.count(entry.path().filename().string())) stale.push_back(entry.path());
  for (const auto& p : stale) fs::remove(p, ec);
}

// ---- opening a run: a fresh one, or the resumption of one ----

// A fresh run: the method's files (text/), config.json, an empty metrics log.
runs::TrainerState start_run(runs::RunDirectory& run, const Method& method, const TrainOptions& o,
                             const nlohmann::json& options_json) {
  runs::RunConfig config;
  config.method = o.method, config.arch = o.arch, config.task = o.task, config.seed = o.seed;
  config.resize = o.resize;
  config.manifest = fs::absolute(o.manifest).string();
  config.options = options_json;
  method.describe(config);
  method.prepare_run_directory(run);
  run.write_config(config);
  run.open_metrics(0);
  return {};
}

// --resume: the options must be config.json's (kRunControlOptions aside); the models, optimizer
// moments and generator states of the last completed epoch come back, and the log is cut back to it.
runs::TrainerState resume_run(runs::RunDirectory& run, Method& method, const TrainOptions& o,
                              const nlohmann::json& options_json) {
  CXR_CHECK(run.has_state(), o.out, ": nothing to resume (no state/trainer.json); start the run without --resume");
  check_resumable(run.read_options(), options_json, run.config());
  runs::TrainerState state = run.read_state();
  nn::load_checkpoint(*method.models, run.state_model(state.epoch), {});
  for (auto& opt : method.optimizers) opt.optimizer->load(run.state_optimizer(opt.name, state.epoch));
  for (auto& [name, gen] : method.generators) {
    auto it = state.generators.find(name);
    CXR_CHECK(it != state.generators.end(), run.trainer_state(), ": no state for generator '", name, "'");
    gen->set_state(it->second.first, it->second.second);
  }
  run.open_metrics(state.metrics_bytes);
  return state;
}

// ---- the loaders ----

struct TrainingLoaders {
  std::unique_ptr<data::Loader> train;
  std::unique_ptr<data::Loader> val;  // null when the method has no classifier or the split no rows
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;  // epochs x steps per epoch, or --max-steps if fewer
};

TrainingLoaders make_loaders(const data::Manifest& manifest, Method& method, const TrainOptions& o, const Parallel& par) {
  TrainingLoaders l;
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size, lo.shuffle = true, lo.drop_last = method.drop_last(), lo.seed = o.seed;
  lo.workers = o.workers, lo.splits = o.train_splits;
  lo.filter = [m = &method](const data::ManifestRow& r) { return m->trains_on(r); };
  lo.transform = data::resized(o.resize, method.train_transform());
  lo.load_reports = method.needs_reports();
  shard(lo, par, /*even=*/true);
  l.train = std::make_unique<data::Loader>(manifest, lo);
  std::string splits;
  for (auto& s : o.train_splits) splits += (splits.empty() ? "" : ",") + s;
  CXR_CHECK(l.train->selected() > 0, o.manifest, ": no rows to train on in split(s) ", splits,
            method.predicts() ? " with a label for task " + o.task : "");
  // (every rank computes the same sizes, so every rank stops here together)
  CXR_CHECK(l.train->size() > 0, o.manifest, ": rank ", par.rank(), " of ", par.size(),
            ": its shard of the training set is empty (", l.train->selected(), " training rows for ", par.size(),
            " ranks); use fewer ranks");
  l.steps_per_epoch = l.train->batches_per_epoch();
  CXR_CHECK(l.steps_per_epoch > 0, o.manifest, ": ", l.train->size(), " training rows", par ? " per rank" : "",
            " make no full batch of ", o.batch_size, " (this method drops the last incomplete batch)");
  l.total_steps = o.epochs * l.steps_per_epoch;
  if (o.max_steps > 0) l.total_steps = std::min(l.total_steps, o.max_steps);
  if (method.predicts()) {
    data::LoaderOptions vo = eval_loader_options(method.task, o.val_split, method.image_size(), o.resize, o.batch_size, o.workers);
    shard(vo, par, /*even=*/false);
    l.val = std::make_unique<data::Loader>(manifest, vo);
    if (l.val->selected() == 0) l.val.reset();
  }
  return l;
}

// ---- the epochs ----

// The loop across epochs: where it stands (state, step) and what it writes to. In a distributed
// run every rank runs it in lockstep: each step the ranks agree that all have a batch, sum their
// losses (the logged loss is their mean), and the reducer averages the gradients; rank 0 alone
// logs, shows progress and checkpoints.
class TrainingLoop {
 public:
  TrainingLoop(const TrainOptions& o, Method& method, runs::RunDirectory& run, TrainingLoaders& loaders,
               runs::TrainerState state, Clock::time_point start, Parallel& par)
      : o_(o), method_(method), run_(run), loaders_(loaders), state_(std::move(state)), step_(state_.step),
        elapsed_before_(state_.elapsed_s), start_(start), par_(par),
        progress_(o.progress, o.log_every * 5, par.writer() ? stderr : nullptr) {}

  // Epochs after the last completed one, until --epochs or the step budget.
  void run() {
    for (int64_t epoch = state_.epoch + 1; epoch <= o_.epochs && step_ < loaders_.total_steps; ++epoch) {
      const EpochLoss loss = train_epoch(epoch);
      end_epoch(epoch, loss);
    }
  }

 private:
  struct EpochLoss {
    double sum = 0;
    int64_t steps = 0;
    double mean() const { return steps ? sum / double(steps) : NAN; }
  };
  // Per-step timings of a distributed run, summed over a log window.
  struct DistWindow {
    double step_s = 0, wait_s = 0, finish_s = 0, sync_s = 0;
  };

  double elapsed() const { return elapsed_before_ + std::chrono::duration<double>(Clock::now() - start_).count(); }

  // A blocking sum of control values, its time counted as synchronization (it includes waiting for
  // the slowest rank).
  void control_sum(double* v, int64_t n, const char* what, DistWindow& w) {
    const auto t = Clock::now();
    par_.comm->sum(v, n, what);
    w.sync_s += std::chrono::duration<double>(Clock::now() - t).count();
  }

  // The steps of one epoch: a `step` line in the log every --log-every steps; a non-finite loss
  // logs a `stop` line and throws NonFiniteLoss.
  EpochLoss train_epoch(int64_t epoch) {
    data::Loader& loader = *loaders_.train;
    loader.start_epoch(epoch);
    progress_.start_epoch(epoch, o_.epochs, std::min(loaders_.steps_per_epoch, loaders_.total_steps - step_));
    EpochLoss epoch_loss;
    double window_loss = 0;
    std::map<std::string, double> window_parts;
    int64_t window = 0;
    DistWindow dist_window;
    auto flush_window = [&]() {
      if (window == 0) return;
      const auto& optimizers = method_.optimizers;
      nlohmann::json ev = {{"event", "step"},
                           {"epoch", epoch},
                           {"step", step_},
                           {"loss", window_loss / double(window)},
                           {"lr", optimizers.empty() ? 0.0 : optimizers[0].optimizer->groups()[0].lr},
                           {"elapsed_s", elapsed()}};
      for (auto& [k, v] : window_parts) ev["parts"][k] = v / double(window);
      if (par_) {
        // Means per step: the whole step, the gradient sums' wait the backward did not hide, all of
        // the reducer's finish (that wait, zero fills, the mean written back into .grad), and the
        // control sums (which include waiting for the slowest rank).
        ev["dist"] = {{"ranks", par_.size()},
                      {"step_s", dist_window.step_s / double(window)},
                      {"wait_s", dist_window.wait_s / double(window)},
                      {"reduce_s", dist_window.finish_s / double(window)},
                      {"sync_s", dist_window.sync_s / double(window)}};
      }
      run_.log(ev);
      window_loss = 0, window = 0, window_parts.clear(), dist_window = {};
    };
    while (step_ < loaders_.total_steps) {
      const auto step_start = Clock::now();
      std::optional<data::Batch> batch = loader.next();
      if (par_) {
        // Every rank must take the step (a rank whose shard ran short, e.g. after skipped samples,
        // ends the epoch for all).
        double have = batch ? 1 : 0;
        control_sum(&have, 1, "step agreement", dist_window);
        if (have < double(par_.size())) break;
      } else if (!batch) {
        break;
      }
      move_batch_to(*batch, method_.device());
      method_.models->train();
      method_.zero_grad();
      StepOutput out = method_.loss(*batch);
      double loss_value = 0;
      int contributors = 1;
      bool local_non_finite = false;
      if (par_) {
        const bool defined = out.loss.defined();
        const double local = defined ? out.loss.item() : 0.0;
        local_non_finite = defined && !std::isfinite(local);
        double v[3] = {defined && !local_non_finite ? local : 0.0, defined ? 1.0 : 0.0, local_non_finite ? 1.0 : 0.0};
        control_sum(v, 3, "step loss", dist_window);
        if (v[1] == 0) continue;  // no rank has a labelled example in this batch
        if (v[2] > 0) {
          flush_window();
          const std::string msg = local_non_finite
                                      ? exit_message_for_non_finite(out, step_ + 1, epoch)
                                      : "non-finite loss on another rank at step " + std::to_string(step_ + 1) +
                                            " of epoch " + std::to_string(epoch);
          run_.log({{"event", "stop"}, {"reason", "non-finite loss"}, {"step", step_ + 1}, {"detail", msg}});
          throw NonFiniteLoss(msg);
        }
        contributors = int(v[1]);
        loss_value = v[0] / v[1];
      } else {
        if (!out.loss.defined()) continue;  // nothing labelled in this batch
        loss_value = out.loss.item();
        if (!std::isfinite(loss_value)) {
          flush_window();
          const std::string msg = exit_message_for_non_finite(out, step_ + 1, epoch);
          run_.log({{"event", "stop"}, {"reason", "non-finite loss"}, {"step", step_ + 1}, {"detail", msg}});
          throw NonFiniteLoss(msg);
        }
      }
      if (par_) par_.reducer->prepare();
      if (out.loss.defined()) out.loss.backward();
      else if (par_ && o_.sync_bn) zero_loss(out).backward();
      if (par_) {
        const dist::ReducerStats before = par_.reducer->stats();
        par_.reducer->finish(contributors);
        dist_window.wait_s += par_.reducer->stats().wait_s - before.wait_s;
        dist_window.finish_s += par_.reducer->stats().finish_s - before.finish_s;
      }
      method_.step(step_, loaders_.total_steps);
      ++step_, ++epoch_loss.steps, ++window;
      window_loss += loss_value, epoch_loss.sum += loss_value;
      for (auto& [k, t] : out.parts)
        if (t.defined()) window_parts[k] += t.item();
      if (par_) {
        dist_window.step_s += std::chrono::duration<double>(Clock::now() - step_start).count();
        maybe_inject_fault();
      }
      if (window >= o_.log_every) flush_window();
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4f", loss_value);
      progress_.update(epoch_loss.steps, status);
    }
    flush_window();
    return epoch_loss;
  }

  // Fault injection for the tests (tests/test_dist.cpp): CXR_DIST_FAULT="kill:RANK:STEP" makes that
  // rank SIGKILL itself after that many steps, as a crashed node would; "stop:RANK:STEP" SIGSTOPs it,
  // as a hung one (the other ranks' watchdog must then end the job).
  void maybe_inject_fault() const {
    const char* spec = std::getenv("CXR_DIST_FAULT");
    if (!spec || !*spec) return;
    char kind[8] = {0};
    int rank = -1;
    long long at = -1;
    if (std::sscanf(spec, "%7[a-z]:%d:%lld", kind, &rank, &at) != 3 || rank != par_.rank() || step_ != at) return;
    const bool kill = std::string(kind) == "kill";
    std::fprintf(stderr, "cxr: rank %d: CXR_DIST_FAULT: %s after step %lld\n", rank, kill ? "SIGKILL" : "SIGSTOP", at);
    std::fflush(stderr);
    ::raise(kill ? SIGKILL : SIGSTOP);
  }

  // The end of an epoch: validation, the `epoch` line, then the checkpoint (state/trainer.json is
  // the commit point), best.safetensors when the headline metric improved, model.safetensors.
  void end_epoch(int64_t epoch, const EpochLoss& loss) {
    if (par_) {
      broadcast_buffers(*method_.models, par_);
      check_same_model(*method_.models, par_, "at the end of epoch " + std::to_string(epoch));
    }
    nlohmann::json ev = {{"event", "epoch"}, {"epoch", epoch}, {"step", step_}, {"train_loss", loss.mean()}};
    std::string summary = "loss " + std::to_string(loss.mean());
    double score = NAN;
    if (loaders_.val) {
      PredictionSet predictions = predict_all(method_, *loaders_.val, method_.task, par_);
      if (par_.writer()) {
        nlohmann::json val = predictions.evaluate(0, o_.seed);
        for (auto& [name, m] : val["metrics"].items()) ev["val"][name] = m["value"];
        const std::string headline = headline_metric(method_.task);
        if (val["metrics"].contains(headline) && val["metrics"][headline]["value"].is_number())
          score = val["metrics"][headline]["value"].get<double>();
        summary += "  val " + headline + " " + (std::isfinite(score) ? std::to_string(score) : std::string("n/a"));
      }
    }
    const double elapsed_s = elapsed();
    ev["elapsed_s"] = elapsed_s;
    run_.log(ev);

    state_.epoch = epoch, state_.step = step_, state_.metrics_bytes = run_.metrics_bytes(), state_.elapsed_s = elapsed_s;
    if (!par_.writer()) return;  // rank 0 writes the checkpoint
    nn::save_checkpoint(*method_.models, run_.state_model(epoch));
    for (auto& opt : method_.optimizers) opt.optimizer->save(run_.state_optimizer(opt.name, epoch));
    if (std::isfinite(score) && score > state_.best_score) {
      state_.best_score = score, state_.best_epoch = epoch;
      nn::save_checkpoint(*method_.models, run_.best_model());
    }
    state_.generators.clear();
    for (auto& [name, gen] : method_.generators) state_.generators[name] = {gen->seed(), gen->offset()};
    // model.safetensors before the commit: a run killed after the commit of its last epoch is
    // resumed with nothing left to train, so nothing would write it again (found while writing the
    // SIGKILL-at-random-points test, tests/test_fault_injection.cpp). Killed before the commit, the
    // resume retrains this epoch and writes the same bytes.
    nn::save_checkpoint(*method_.models, run_.model());
    run_.write_state(state_);  // the commit point: from here on a resume starts after this epoch
    remove_stale_state(run_, epoch, method_.optimizers);
    progress_.end_epoch(summary);
  }

  const TrainOptions& o_;
  Method& method_;
  runs::RunDirectory& run_;
  TrainingLoaders& loaders_;
  runs::TrainerState state_;
  int64_t step_;
  double elapsed_before_;
  Clock::time_point start_;
  Parallel& par_;
  Progress progress_;
};

// ---- the final evaluation ----

// The validation and test splits with bootstrap CIs: eval-<split>.json and predictions-<split>.csv.
// Returns the test split's evaluation (null when the method has no classifier or the split no rows).
nlohmann::json evaluate_held_out(const data::Manifest& manifest, Method& method, const TrainOptions& o,
                                 const runs::RunPaths& run, const Parallel& par) {
  nlohmann::json test_result;
  if (!method.predicts()) return test_result;
  for (const std::string& split : {o.val_split, o.test_split}) {
    data::LoaderOptions lo = eval_loader_options(method.task, split, method.image_size(), o.resize, o.batch_size, o.workers);
    shard(lo, par, /*even=*/false);
    data::Loader l(manifest, lo);
    if (l.selected() == 0) continue;
    PredictionSet p = predict_all(method, l, method.task, par);
    if (!par.writer()) continue;
    nlohmann::json result = p.evaluate(o.bootstrap, o.seed);
    result["split"] = split;
    runs::write_json_file(run.eval(split), result);
    p.write_csv(run.predictions(split));
    if (split == o.test_split) test_result = result;
  }
  return test_result;
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

namespace {

// The run itself; `comm` null for a single process.
nlohmann::json train_ranks(TrainOptions o, dist::Communicator* comm) {
  const Device device = cuda::select_device(o.device, "train");  // before any work: a clear error
  Parallel par;
  if (comm) par.comm = device == Device::CUDA ? &dist::nccl_world(o.dist_timeout) : comm;
  o.world_size = par.size();
  cpu::set_num_threads(o.threads);
  const auto start = Clock::now();

  data::Manifest manifest = prepare_manifest(o);
  std::unique_ptr<Method> method = make_method(o, /*for_training=*/true);
  method->to(device);
  method->task.bind(manifest);
  runs::RunDirectory run(o.out, par.writer());
  const nlohmann::json options_json = o;
  runs::TrainerState state;
  if (o.resume) {
    state = resume_run(run, *method, o, options_json);
  } else if (par.writer()) {
    state = start_run(run, *method, o, options_json);
  }

  TrainingLoaders loaders = make_loaders(manifest, *method, o, par);
  if (par) {
    if (o.sync_bn) dist::use_sync_batch_norm(*method->models, *par.comm);
    nn::NamedTensors trainable;
    for (auto& [name, p] : method->models->named_parameters())
      if (p.requires_grad()) trainable.push_back({name, p});
    par.reducer = std::make_unique<dist::GradientReducer>(*par.comm, trainable, int64_t(o.bucket_mb * 1048576.0));
    check_same_model(*method->models, par, "at the start");
  }
  if (par.writer()) {
    std::fprintf(stderr, "train %s: %lld rows, %lld steps per epoch, %lld epochs, %lld parameters (%lld trainable)\n",
                 o.method.c_str(), (long long)(par ? loaders.train->selected() : loaders.train->size()),
                 (long long)loaders.steps_per_epoch, (long long)o.epochs, (long long)method->models->num_parameters(),
                 (long long)method->models->num_parameters(true));
    if (par)
      std::fprintf(stderr, "distributed: %d ranks (%s), %lld rows and a batch of %lld per rank, %lld gradient buckets%s\n",
                   par.size(), par.comm->backend().c_str(), (long long)loaders.train->size(), (long long)o.batch_size,
                   (long long)par.reducer->num_buckets(), o.sync_bn ? ", synchronized batch norm" : "");
  }
  TrainingLoop(o, *method, run, loaders, std::move(state), start, par).run();
  return evaluate_held_out(manifest, *method, o, run, par);
}

}  // namespace

nlohmann::json run_training(TrainOptions o) {
  o.resolve_defaults();
  o.validate();
  if (!o.distributed) {
    CXR_CHECK(dist::launcher_size() <= 1, "train: launched as rank ", dist::launcher_rank(), " of ", dist::launcher_size(),
              " (mpirun, srun) without --distributed: every process would train alone and write the same run "
              "directory; add --distributed");
    return train_ranks(o, nullptr);
  }
  if (o.device == "cuda") dist::assign_local_device();  // one GPU per rank, before CUDA starts
  (void)cuda::select_device(o.device, "train");  // no GPU: a plain error, before MPI starts
  dist::Communicator& comm = dist::world(o.dist_timeout);  // "built without MPI" here
  // From here on, an error on one rank must end every rank: the others would wait in the next
  // collective until the watchdog fired.
  try {
    nlohmann::json result = train_ranks(o, &comm);
    dist::finalize();
    return result;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    dist::abort_job(what.rfind("train", 0) == 0 ? what : "train: " + what, 2);
  }
}

nlohmann::json run_evaluation(const EvalOptions& e) {
  const Device device = cuda::select_device(e.device, "eval");
  std::unique_ptr<Method> method = load_trained_method(e.run_dir, e.weights);
  method->to(device);
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
  if (!e.out.empty()) runs::write_json_file(e.out, result);
  if (!e.predictions.empty()) p.write_csv(e.predictions);
  return result;
}

}  // namespace cxr::train
