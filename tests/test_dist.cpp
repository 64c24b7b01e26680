// test_dist.cpp — data-parallel training (dist/, docs/DISTRIBUTED.md). Without MPI: the
// gradient-ready hook, the bucketed reducer and synchronized batch norm against a stand-in
// communicator of N identical ranks (whose mean must equal one process's gradient bit for bit), the
// loader's shards, the gathered predictions. With mpirun (skipped, saying so, where it is absent):
// `cxr train --distributed` on 2 local ranks x 1 thread — equivalence with one process at twice the
// batch, a killed rank, a hung rank, resume (distributed and into one process), an empty shard.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "autograd/grad_hooks.h"
#include "autograd/node.h"
#include "cuda/runtime.h"
#include "data/loader.h"
#include "dist/comm.h"
#include "dist/reducer.h"
#include "dist/sync_batch_norm.h"
#include "nn/layers.h"
#include "ops/ops.h"
#include "runs/run_dir.h"
#include "tensor/safetensors.h"
#include "train/method.h"
#include "train/task.h"
#include "train_testing.h"

using namespace cxr;
using namespace cxr::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

// N ranks that all hold this process's values: a sum is x N, so the reducer's mean must give back
// exactly this process's gradient (x + x = 2x and 2x * 0.5 = x are exact in float32).
class IdenticalRanks final : public dist::Communicator {
 public:
  explicit IdenticalRanks(int n) : n_(n) {}
  int rank() const override { return 0; }
  int size() const override { return n_; }
  std::string backend() const override { return "identical-ranks"; }
  std::unique_ptr<dist::PendingSum> sum_start(const Tensor& buffer, const std::string& what) override {
    started.push_back(what);
    started_while_hooks_ran.push_back(hooks_so_far);
    copy_(buffer, buffer * double(n_));
    struct Done final : dist::PendingSum {
      bool test() override { return true; }
      void wait() override {}
    };
    return std::make_unique<Done>();
  }
  void sum(double* v, int64_t count, const std::string&) override {
    for (int64_t i = 0; i < count; ++i) v[i] *= n_;
    ++control_sums;
  }
  std::vector<std::string> gather(const std::string& mine, const std::string&) override {
    return std::vector<std::string>(size_t(n_), mine);
  }
  std::vector<std::string> all_gather(const std::string& mine, const std::string& w) override {
    return gather(mine, w);
  }

  std::vector<std::string> started;
  std::vector<int> started_while_hooks_ran;
  int hooks_so_far = 0;
  int control_sums = 0;

 private:
  int n_;
};

// A small chain: 4 -> 16 -> 16 -> 16 -> 3, and the parameters of one extra layer the loss never uses.
struct Chain {
  std::shared_ptr<nn::Sequential> mlp;
  std::shared_ptr<nn::Linear> unused;
  nn::NamedTensors params() const {
    nn::NamedTensors p = mlp->named_parameters();
    for (auto& [n, t] : unused->named_parameters()) p.push_back({"unused." + n, t});
    return p;
  }
};

Chain make_chain(uint64_t seed) {
  Generator g(seed);
  return {nn::make_mlp(4, {16, 16, 16}, 3, &g), std::make_shared<nn::Linear>(3, 2, true, &g)};
}

Tensor chain_loss(Chain& c) {
  Generator g(99);
  Tensor x = randn({8, 4}, {}, &g);
  Tensor y = from_vector({0, 1, 2, 0, 1, 2, 0, 1}, {8}, {.dtype = DType::Int64});
  return cross_entropy(c.mlp->forward(x), y);
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

}  // namespace

TEST_CASE("dist: a gradient-ready hook runs once per backward, after the leaf's last contribution") {
  Tensor w = tensor({1.0, 2.0, 3.0}).requires_grad_();
  int calls = 0;
  std::vector<double> seen;
  GradHookHandle h = add_grad_ready_hook(w, [&](const Tensor& g) {
    ++calls;
    seen = g.to_vector();
  });
  // w is used twice: the hook must see the sum of both paths (2 + 3 w), not the first alone.
  Tensor loss = sum(w * 2.0) + sum(w * w * 1.5);
  loss.backward();
  CHECK(calls == 1);
  CHECK(seen == w.grad().to_vector());
  CHECK(seen == std::vector<double>{5.0, 8.0, 11.0});
  // Accumulation across backward passes: the hook sees the accumulated .grad each time.
  sum(w).backward();
  CHECK(calls == 2);
  CHECK(seen == std::vector<double>{6.0, 9.0, 12.0});
  h.reset();
  sum(w).backward();
  CHECK(calls == 2);
  CHECK(error_of([&] { (void)add_grad_ready_hook(w * 2.0, [](const Tensor&) {}); }).find("leaf") != std::string::npos);
}

TEST_CASE("dist: the reducer's mean over identical ranks is one process's gradient, bit for bit") {
  Chain reference = make_chain(5), chain = make_chain(5);
  chain_loss(reference).backward();

  IdenticalRanks ranks(2);
  // 600 bytes per bucket: the chain's 16x16 weights (1 KiB) get a bucket each, so there are several.
  dist::GradientReducer reducer(ranks, chain.params(), 600);
  REQUIRE(reducer.num_buckets() >= 4);
  // Buckets hold the parameters in reverse registration order (the order the backward finishes them).
  CHECK(reducer.bucket_names(0).front() == "unused.bias");
  GradHookHandle counter;
  for (auto& [name, p] : chain.params())
    if (name.rfind("unused.", 0) != 0) counter = add_grad_ready_hook(p, [&](const Tensor&) { ++ranks.hooks_so_far; });
  for (int step = 0; step < 2; ++step) {  // twice: the second step must not see the first's gradients
    reducer.prepare();
    chain_loss(chain).backward();
    reducer.finish(2);
  }
  const nn::NamedTensors got = chain.params(), want = reference.params();
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(got[i].first);
    CHECK(bit_equal(got[i].second.grad(), want[i].second.grad()));
  }
  // The unused layer: reached by no rank, so its gradient stays undefined (the optimizer skips it).
  CHECK_FALSE(chain.unused->weight.grad().defined());
  // The first bucket holds the unused layer, so it completes only at finish(); sums start in bucket
  // order, so here every bucket starts at finish (the next test has a model whose buckets start early).
  CHECK(reducer.stats().buckets_started_at_finish == 2 * reducer.num_buckets());
  CHECK(reducer.stats().steps == 2);
}

TEST_CASE("dist: buckets start while the backward still runs") {
  Generator g(5);
  auto mlp = nn::make_mlp(4, {16, 16, 16}, 3, &g);
  IdenticalRanks ranks(2);
  dist::GradientReducer reducer(ranks, mlp->named_parameters(), 600);
  int hooks = 0;
  std::vector<GradHookHandle> counters;
  for (auto& [name, p] : mlp->named_parameters())
    counters.push_back(add_grad_ready_hook(p, [&](const Tensor&) { ranks.hooks_so_far = ++hooks; }));
  reducer.prepare();
  Tensor x = randn({8, 4}, {}, &g);
  cross_entropy(mlp->forward(x), from_vector({0, 1, 2, 0, 1, 2, 0, 1}, {8}, {.dtype = DType::Int64})).backward();
  const int64_t in_backward = reducer.stats().buckets_started_in_backward;
  reducer.finish(2);
  MESSAGE(reducer.num_buckets(), " buckets, ", in_backward, " started from the backward's hooks");
  CHECK(in_backward == reducer.num_buckets());
  // The first bucket (the last layer) started before the backward had reached the first layer.
  REQUIRE(!ranks.started_while_hooks_ran.empty());
  CHECK(ranks.started_while_hooks_ran.front() < int(mlp->named_parameters().size()));
  // Ranks without a loss this step count as zero: with 1 contributor of 2 the mean is the sum.
  Tensor before = mlp->named_parameters()[0].second.grad().clone();
  reducer.prepare();
  cross_entropy(mlp->forward(x), from_vector({0, 1, 2, 0, 1, 2, 0, 1}, {8}, {.dtype = DType::Int64})).backward();
  reducer.finish(1);
  CHECK(allclose(mlp->named_parameters()[0].second.grad(), before * 2.0, 0, 0));
  CHECK(contains(error_of([&] { reducer.finish(1); }), "without prepare"));
}

TEST_CASE("dist: synchronized batch norm over identical ranks equals batch_norm, values and gradients") {
  for (int ranks_n : {1, 2}) {
    INFO(ranks_n, " ranks");
    IdenticalRanks ranks(ranks_n);
    Generator g(11);
    nn::BatchNorm2d plain(3), synced(3);
    for (auto* bn : {&plain, &synced}) {
      copy_(bn->weight, tensor({0.5, 1.5, -1.0}));
      copy_(bn->bias, tensor({0.1, -0.2, 0.3}));
    }
    CHECK(dist::use_sync_batch_norm(synced, ranks) == 1);
    Tensor x = randn({4, 3, 5, 5}, {}, &g) * 3.0 + 1.0;
    Tensor up = randn({4, 3, 5, 5}, {}, &g);
    Tensor x1 = x.clone().requires_grad_(), x2 = x.clone().requires_grad_();
    Tensor y1 = plain.forward(x1), y2 = synced.forward(x2);
    CHECK(max_abs_diff(y1, y2) < 1e-5);
    sum(y1 * up).backward();
    sum(y2 * up).backward();
    // x's gradient uses the all-summed sum(g) and sum(g xhat): with N identical ranks each is N x
    // one rank's, over N x the count, so it must equal one process's.
    CHECK(max_abs_diff(x1.grad(), x2.grad()) < 1e-5);
    CHECK(max_abs_diff(plain.weight.grad(), synced.weight.grad()) < 1e-4);
    CHECK(max_abs_diff(plain.bias.grad(), synced.bias.grad()) < 1e-4);
    CHECK(max_abs_diff(plain.running_mean, synced.running_mean) < 1e-6);
    if (ranks_n == 1) CHECK(max_abs_diff(plain.running_var, synced.running_var) < 1e-5);
    // (with 2 ranks the unbiased variance's M / (M - 1) uses the global count: 200 values, not 100)
    if (ranks_n == 2) CHECK(max_abs_diff(plain.running_var, synced.running_var) > 1e-6);
    // Eval mode ignores the ranks: running statistics, no collective.
    synced.eval();
    const int before = ranks.control_sums;
    (void)synced.forward(x);
    CHECK(ranks.control_sums == before);
  }
}

TEST_CASE("dist: the shards of a loader together are one process's batches at shard_count x the batch") {
  const std::string data = phantom_dataset(40, 9);
  const data::Manifest m = data::read_manifest(data + "/manifest.csv");
  data::LoaderOptions one;
  one.batch_size = 6, one.seed = 4, one.workers = 1;
  data::Loader whole(m, one);
  std::vector<std::vector<int64_t>> shard_orders;
  for (int r = 0; r < 3; ++r) {
    data::LoaderOptions lo = one;
    lo.batch_size = 2, lo.shard_rank = r, lo.shard_count = 3;
    data::Loader l(m, lo);
    CHECK(l.size() == whole.size() / 3);  // even shards: the order is cut to a multiple of 3
    shard_orders.push_back(l.epoch_order(1));
  }
  const std::vector<int64_t> order = whole.epoch_order(1);
  std::set<int64_t> seen;
  for (size_t k = 0; k < shard_orders[0].size() / 2; ++k) {  // batch k of each shard
    std::multiset<int64_t> from_shards, from_whole(order.begin() + int64_t(6 * k), order.begin() + int64_t(6 * k + 6));
    for (auto& s : shard_orders)
      for (size_t j = 0; j < 2; ++j) from_shards.insert(s[2 * k + j]);
    CHECK(from_shards == from_whole);
    seen.insert(from_shards.begin(), from_shards.end());
  }
  CHECK(seen.size() == shard_orders[0].size() / 2 * 6);  // disjoint
  // Uneven (evaluation): every row exactly once.
  size_t total = 0;
  for (int r = 0; r < 3; ++r) {
    data::LoaderOptions lo = one;
    lo.shuffle = false, lo.shard_rank = r, lo.shard_count = 3, lo.shard_even = false;
    total += size_t(data::Loader(m, lo).size());
  }
  CHECK(total == size_t(whole.size()));
  data::LoaderOptions bad = one;
  bad.shard_rank = 3, bad.shard_count = 3;
  CHECK(contains(error_of([&] { data::Loader(m, bad); }), "shard 3 of 3"));
}

TEST_CASE("dist: predictions gathered from shards come back in manifest row order") {
  const train::Task task = train::Task::parse("edema");
  auto batch_of = [](std::vector<int64_t> rows) {
    data::Batch b;
    b.edema = from_vector(std::vector<double>(rows.size(), 1.0), {int64_t(rows.size())}, {.dtype = DType::Int64});
    for (int64_t r : rows) b.ids.push_back("s" + std::to_string(r)), b.rows.push_back(r);
    return b;
  };
  train::PredictionSet a(task), b(task), merged(task);
  a.add(batch_of({0, 2, 4}), zeros({3, 4}));
  b.add(batch_of({1, 3}), ones({2, 4}));
  merged.merge(a.serialize());
  merged.merge(b.serialize());
  merged.sort_by_row();
  const std::string csv = temp_path("dist_merged.csv");
  merged.write_csv(csv);
  const std::string text = read_text(csv);
  CHECK(text.find("s0,") < text.find("s1,"));
  CHECK(text.find("s1,") < text.find("s2,"));
  CHECK(text.find("s3,") < text.find("s4,"));
  CHECK(contains(error_of([&] { merged.merge("{}"); }), "not a serialized prediction set"));
  fs::remove(csv);
}

TEST_CASE("dist: a build without MPI says so for --distributed") {
  if (dist::mpi_built()) {
    skip_test("this build has MPI (the message is checked in builds configured with -DCXR_MPI=OFF)");
    return;
  }
  CHECK(contains(error_of([] { dist::world(); }), "built without MPI"));
  CHECK(contains(error_of([] { dist::nccl_world(); }), "built without MPI and NCCL"));
}

// ---- with MPI: the cxr CLI on 2 local ranks ----

namespace {

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

bool skip_without_mpi(const std::string& what) {
  if (!dist::mpi_built()) {
    skip_test(what + ": this build has no MPI (Debian libopenmpi-dev)");
    return true;
  }
  if (!have_mpirun()) {
    skip_test(what + ": no mpirun on PATH (Debian openmpi-bin)");
    return true;
  }
  if (kSanitizedBuild) {
    skip_test(what + ": OpenMPI's own allocations trip LeakSanitizer; the Release build runs it");
    return true;
  }
  return skip_under_reference_kernels(what);
}

// `mpirun -np N cxr ARGS` on this machine (as root too, as CI runs), every rank one thread.
CliRun run_mpi(int np, const std::vector<std::string>& args, const std::string& env = "") {
  return run_cxr_with("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 CXR_THREADS=1 " + env +
                          " timeout 120 mpirun -np " + std::to_string(np) + " --oversubscribe --bind-to none",
                      args);
}

std::vector<std::string> train_args(const std::string& data, const std::string& out, int batch, int epochs) {
  return {"train",
          "--method",
          "image",
          "--manifest",
          data + "/manifest.csv",
          "--out",
          out,
          "--arch",
          "resnet128_6_2_1",
          "--batch-size",
          std::to_string(batch),
          "--epochs",
          std::to_string(epochs),
          "--log-every",
          "1",
          "--bootstrap",
          "10",
          "--progress",
          "0",
          "--seed",
          "3",
          "--threads",
          "1"};
}

std::vector<std::string> with(std::vector<std::string> v, std::initializer_list<std::string> more) {
  v.insert(v.end(), more);
  return v;
}

std::vector<json> events(const std::string& run, const std::string& kind) {
  std::vector<json> out;
  for (json e : read_jsonl(run + "/metrics.jsonl"))
    if (e["event"] == kind) {
      e.erase("elapsed_s");
      e.erase("dist");  // timings
      out.push_back(e);
    }
  return out;
}

// |(p_a - p0) - (p_b - p0)| / |p_b - p0| over the trainable tensors: how far two runs' updates are.
double relative_update_difference(const std::string& a, const std::string& b, const std::map<std::string, Tensor>& p0) {
  const auto ta = read_safetensors(a).tensors, tb = read_safetensors(b).tensors;
  double diff2 = 0, norm2 = 0;
  for (auto& [name, init] : p0) {
    if (!is_floating(init.dtype()) || name.find("running") != std::string::npos) continue;
    const Tensor da = (ta.at(name) - init).to(DType::Float64), db = (tb.at(name) - init).to(DType::Float64);
    diff2 += sum(pow(da - db, 2.0)).item();
    norm2 += sum(pow(db, 2.0)).item();
  }
  return std::sqrt(diff2 / norm2);
}

}  // namespace

TEST_CASE("dist: mpirun -np 2 at batch b equals one process at batch 2b (with --sync-bn), within rounding") {
  if (skip_without_mpi("distributed equivalence")) return;
  const std::string data = phantom_dataset(60, 5);
  const std::string base = fresh_temp_dir("dist_equiv");
  // 2 steps of the same 2 global batches of 8: 2 ranks x 4, and 1 process x 8. (Rounding differences
  // grow along the steps through batch norm and Adam: measured 1e-3 after one step, 4e-3 after two,
  // 4e-2 after four, against about 1 with per-rank statistics; docs/DISTRIBUTED.md.)
  auto args = [&](const std::string& out, int batch) {
    return with(train_args(data, out, batch, 1), {"--max-steps", "2"});
  };
  const auto t0 = std::chrono::steady_clock::now();
  CliRun synced = run_mpi(2, with(args(base + "/sync", 4), {"--distributed", "--sync-bn"}));
  REQUIRE_MESSAGE(synced.exit_code == 0, synced.err);
  CliRun per_rank = run_mpi(2, with(args(base + "/per-rank", 4), {"--distributed", "--bucket-mb", "0.25"}));
  REQUIRE_MESSAGE(per_rank.exit_code == 0, per_rank.err);
  CliRun single = run_cxr(args(base + "/single", 8));
  REQUIRE_MESSAGE(single.exit_code == 0, single.err);
  MESSAGE("three 2-step runs in ", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
  CHECK(contains(synced.err, "distributed: 2 ranks (mpi)"));
  CHECK(contains(per_rank.err, "gradient buckets"));

  // The logged loss is the mean of the ranks' losses: the full batch's mean up to rounding.
  const std::vector<json> ls = events(base + "/sync", "step"), l1 = events(base + "/single", "step");
  REQUIRE(ls.size() == 2);
  REQUIRE(l1.size() == 2);
  CHECK(ls[0]["loss"].get<double>() == doctest::Approx(l1[0]["loss"].get<double>()).epsilon(1e-5));
  CHECK(ls[1]["loss"].get<double>() == doctest::Approx(l1[1]["loss"].get<double>()).epsilon(1e-4));
  // Timings are logged per step.
  const json d = read_jsonl(base + "/sync/metrics.jsonl").front()["dist"];
  CHECK(d["ranks"] == 2);
  CHECK(d["wait_s"].get<double>() >= 0);

  // Parameters: the updates compared as one vector (Adam moves each element by about lr per step
  // whatever its gradient's size, so an element whose gradient is within rounding of zero may step
  // the other way; the relative L2 difference stays small unless the gradients differ).
  train::TrainOptions o = phantom_run("image", data, base + "/init");
  o.seed = 3;
  const auto p0 = train::make_method(o)->models->state_dict();
  const double with_sync =
      relative_update_difference(base + "/sync/model.safetensors", base + "/single/model.safetensors", p0);
  const double without =
      relative_update_difference(base + "/per-rank/model.safetensors", base + "/single/model.safetensors", p0);
  MESSAGE("|update(2 ranks x 4) - update(1 x 8)| / |update(1 x 8)|: ", with_sync, " with --sync-bn, ", without,
          " with per-rank batch norm");
  CHECK(with_sync < 1.5e-2);
  // Per-rank statistics normalize each half with its own mean and variance: a different model.
  CHECK(without > 10 * with_sync);
  fs::remove_all(base);
}

TEST_CASE("dist: a killed rank ends the job, and the last checkpoint resumes distributed or in one process") {
  if (skip_without_mpi("distributed fault and resume")) return;
  const std::string data = phantom_dataset(60, 5);
  const std::string base = fresh_temp_dir("dist_fault");
  auto args = [&](const std::string& out) { return with(train_args(data, out, 4, 3), {"--distributed"}); };
  CliRun whole = run_mpi(2, args(base + "/whole"));
  REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
  // Rank 0 alone writes: one progress output, one log; the run directory is the usual one.
  CHECK(whole.out.find("\"split\":\"test\"") != std::string::npos);
  CHECK(whole.out.find("\"split\":\"test\"") == whole.out.rfind("\"split\":\"test\""));  // one summary line
  for (auto f : {"config.json", "model.safetensors", "metrics.jsonl", "eval-test.json", "predictions-test.csv"})
    CHECK_MESSAGE(fs::exists(base + "/whole/" + f), f);
  // The evaluation gathered from both ranks' shards is one process's: `cxr eval` of the same model
  // gives the same rows in the same order and the same metrics (the logits may differ in the last
  // bits: other batch compositions).
  CliRun ev = run_cxr({"eval", "--checkpoint", base + "/whole", "--manifest", data + "/manifest.csv", "--out",
                       base + "/again.json", "--predictions", base + "/again.csv", "--bootstrap", "10", "--seed", "3"});
  REQUIRE_MESSAGE(ev.exit_code == 0, ev.err);
  const json gathered = runs::read_json_file(base + "/whole/eval-test.json"),
             single_eval = runs::read_json_file(base + "/again.json");
  for (auto& [name, m] : single_eval["metrics"].items()) {
    INFO(name);
    REQUIRE(gathered["metrics"].contains(name));
    if (m["value"].is_number())
      CHECK(gathered["metrics"][name]["value"].get<double>() ==
            doctest::Approx(m["value"].get<double>()).epsilon(1e-6));
  }
  auto ids_of = [](const std::string& csv) {
    std::vector<std::string> ids;
    std::istringstream in(read_text(csv));
    for (std::string line; std::getline(in, line);) ids.push_back(line.substr(0, line.find(',')));
    return ids;
  };
  CHECK(ids_of(base + "/whole/predictions-test.csv") == ids_of(base + "/again.csv"));
  CHECK(ids_of(base + "/again.csv").size() > 5);

  // Rank 1 SIGKILLs itself at its 7th step (epoch 2: 5 steps per epoch): mpirun ends rank 0 too.
  const auto t0 = std::chrono::steady_clock::now();
  CliRun killed = run_mpi(2, args(base + "/killed"), "CXR_DIST_FAULT=kill:1:7");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("killed run: exit ", killed.exit_code, " after ", took, " s");
  CHECK(killed.exit_code != 0);
  CHECK(killed.exit_code != 124);  // not the test's timeout: the job ended by itself
  CHECK(contains(killed.err, "CXR_DIST_FAULT: SIGKILL"));
  const json state = runs::read_json_file(base + "/killed/state/trainer.json");
  CHECK(state["epoch"] == 1);

  // The last complete checkpoint resumes distributed, bit for bit as the uninterrupted run.
  CliRun resumed = run_mpi(2, with(args(base + "/killed"), {"--resume"}));
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  CHECK(events(base + "/killed", "step") == events(base + "/whole", "step"));
  CHECK(read_text(base + "/killed/model.safetensors") == read_text(base + "/whole/model.safetensors"));
  CHECK(read_text(base + "/killed/eval-test.json") == read_text(base + "/whole/eval-test.json"));

  // ... and into one process, at the same global batch (1 x 8); another global batch is refused.
  CliRun again = run_mpi(2, args(base + "/single-src"), "CXR_DIST_FAULT=kill:1:7");
  CHECK(again.exit_code != 0);
  CliRun refused = run_cxr(with(train_args(data, base + "/single-src", 4, 3), {"--resume"}));
  CHECK(refused.exit_code == 2);
  CHECK_MESSAGE(contains(refused.err, "global batch is 8 = 4 x 2 rank(s), now 4 x 1"), refused.err);
  CliRun one = run_cxr(with(train_args(data, base + "/single-src", 8, 3), {"--resume"}));
  REQUIRE_MESSAGE(one.exit_code == 0, one.err);
  const std::vector<json> steps = events(base + "/single-src", "step");
  CHECK(steps.size() == 15);  // epoch 1 from the ranks, 2 and 3 from one process
  CHECK(steps[5]["step"] == 6);
  CHECK(fs::exists(base + "/single-src/eval-test.json"));
  fs::remove_all(base);
}

TEST_CASE("dist: a hung rank trips the watchdog, and an empty shard or a missing --distributed is a clear error") {
  if (skip_without_mpi("distributed watchdog and start-up errors")) return;
  const std::string data = phantom_dataset(60, 5);
  const std::string base = fresh_temp_dir("dist_errors");
  const auto t0 = std::chrono::steady_clock::now();
  CliRun hung = run_mpi(2, with(train_args(data, base + "/hung", 4, 1), {"--distributed", "--dist-timeout", "2"}),
                        "CXR_DIST_FAULT=stop:1:2");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("hung rank: the job ended after ", took, " s");
  CHECK(hung.exit_code == 2);
  CHECK_MESSAGE(contains(hung.err, "made no progress for 2 s"), hung.err);
  CHECK(took < 60);

  // A manifest with one training row: rank 1's shard is empty.
  data::Manifest m = data::read_manifest(data + "/manifest.csv");
  data::Manifest tiny = m;
  tiny.rows.clear();
  bool kept = false;
  for (auto& r : m.rows)
    if (r.split != "train" || !kept) {
      kept = kept || r.split == "train";
      tiny.rows.push_back(r);
    }
  fs::create_directories(base + "/tiny");
  data::write_manifest(base + "/tiny/manifest.csv", tiny);
  for (auto d : {"images", "reports"}) fs::create_symlink(data + "/" + d, base + "/tiny/" + d);
  CliRun empty = run_mpi(2, with(train_args(base + "/tiny", base + "/empty", 4, 1), {"--distributed"}));
  CHECK(empty.exit_code == 2);
  CHECK_MESSAGE(contains(empty.err, "its shard of the training set is empty (1 training rows for 2 ranks)"), empty.err);

  CliRun plain = run_mpi(2, train_args(data, base + "/plain", 4, 1));
  CHECK(plain.exit_code == 2);
  CHECK_MESSAGE(contains(plain.err, "without --distributed"), plain.err);
  CliRun sync_alone = run_cxr(with(train_args(data, base + "/sync", 4, 1), {"--sync-bn"}));
  CHECK(sync_alone.exit_code == 2);
  CHECK(contains(sync_alone.err, "--sync-bn synchronizes batch norm over the ranks of a --distributed run"));
  fs::remove_all(base);
}

TEST_CASE("dist: NCCL all-reduce of CUDA gradients (one GPU per rank)") {
  if (!dist::nccl_built()) {
    skip_test("NCCL path: this build has no NCCL (the CUDA backend built by nvcc, nccl.h and libnccl)");
    return;
  }
  if (!cuda::available()) {
    skip_test("NCCL path: no CUDA device: " + cuda::status());
    return;
  }
  if (skip_without_mpi("NCCL path")) return;
  // As many ranks as GPUs, at most 2 (one GPU: a communicator of one rank still runs the NCCL calls).
  int gpus = 1;
  for (int d = 1; d < 2; ++d)
    if (std::system(("nvidia-smi -i " + std::to_string(d) + " >/dev/null 2>&1").c_str()) == 0) gpus = d + 1;
  const std::string data = phantom_dataset(60, 5);
  const std::string base = fresh_temp_dir("dist_nccl");
  CliRun r = run_mpi(
      gpus, with(train_args(data, base + "/run", 4, 1), {"--max-steps", "3", "--device", "cuda", "--distributed"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.err, "(nccl)"));
  CHECK(events(base + "/run", "step").size() == 3);
  fs::remove_all(base);
}
