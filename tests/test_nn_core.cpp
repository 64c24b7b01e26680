// test_nn_core.cpp — Module naming and freezing, optimizers against PyTorch (tests/goldens/
// optim.safetensors from tools/goldens/optim.py), schedules, gradient clipping, optimizer state
// save/load, and checkpoint loading rules.
#include <filesystem>
#include <fstream>

#include "nn/checkpoint.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::nn;
using namespace cxr::testing;

namespace {
// A module built only from registration, so these tests need no layer ops.
struct Leafy : Module {
  Tensor w, b, counter;
  explicit Leafy(int64_t n) {
    w = register_parameter("weight", zeros({n, 2}));
    b = register_parameter("bias", zeros({n}));
    counter = register_buffer("count", zeros({}, {.dtype = DType::Int64}));
  }
  std::string type_name() const override { return "Leafy"; }
  std::string extra_repr() const override { return std::to_string(w.size(0)); }
};
struct Tree : Module {
  std::shared_ptr<Leafy> first, second;
  Tree() {
    first = register_module("layer1", std::make_shared<Leafy>(3));
    second = register_module("fc", std::make_shared<Leafy>(2));
  }
  std::string type_name() const override { return "Tree"; }
};

}  // namespace

TEST_CASE("module: dotted names, buffers, counting, modes, freezing, summary") {
  Tree t;
  std::vector<std::string> names;
  for (auto& [n, p] : t.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"layer1.weight", "layer1.bias", "fc.weight", "fc.bias"});
  auto sd = t.state_dict();
  CHECK(sd.size() == 6);
  CHECK(sd.count("layer1.count"));
  CHECK(t.num_parameters() == 6 + 3 + 4 + 2);
  t.eval();
  CHECK(!t.first->is_training());
  t.train();
  CHECK(t.second->is_training());
  CHECK(t.freeze("layer1.*") == 2);
  CHECK(!t.first->w.requires_grad());
  CHECK(t.num_parameters(true) == 6);
  CHECK(t.unfreeze("*bias") == 2);
  CHECK(t.num_parameters(true) == 6 + 3);
  std::string s = t.summary();
  CHECK(s.find("(layer1): Leafy(3)") != std::string::npos);
  CHECK(s.find("parameters: 15 (trainable 9)") != std::string::npos);
  CHECK(name_matches("layer?.*", "layer6.0.conv1.weight"));
  CHECK(!name_matches("fc.*", "layer1.fc.weight"));
  CHECK(name_matches("*LayerNorm.weight*", "bert.embeddings.LayerNorm.weight"));
}

TEST_CASE("module: to(dtype) converts parameters and float buffers in place") {
  Tree t;
  {
    NoGradGuard no_grad;
    copy_(t.first->w, from_vector({0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, {3, 2}));
  }
  Tensor handle = t.first->w;  // e.g. what an optimizer holds
  sum(t.first->w * 2.0).backward();
  REQUIRE(handle.grad().defined());
  t.to(DType::Float64);
  CHECK(handle.same(t.named_parameters()[0].second));
  CHECK(handle.dtype() == DType::Float64);
  CHECK(handle.requires_grad());
  CHECK(!handle.grad().defined());
  CHECK(handle.to_vector() == from_vector({0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, {6}, {.dtype = DType::Float32}).to_vector());
  CHECK(t.first->counter.dtype() == DType::Int64);  // integer buffers stay
  for (auto& [n, p] : t.named_parameters()) CHECK_MESSAGE(p.dtype() == DType::Float64, n);
  // Gradients now flow in float64.
  sum(handle * handle).backward();
  CHECK(handle.grad().dtype() == DType::Float64);
  t.to(DType::Float32);
  CHECK(handle.dtype() == DType::Float32);
  CHECK_THROWS_WITH_AS(t.to(DType::Int64), doctest::Contains("expected a floating dtype"), Error);
}

namespace {
// Runs 3 steps of an optimizer on the golden's parameters and gradients and compares each step.
template <typename MakeOptimizer>
void check_optimizer_golden(const std::string& name, MakeOptimizer make, Tolerance tol = {1e-6, 1e-7}) {
  INFO("optimizer ", name);
  std::vector<Tensor> params = {golden_tensor("optim", "init.p0").requires_grad_(),
                                golden_tensor("optim", "init.p1").requires_grad_()};
  ParamGroup group;
  group.params = {{"p0", params[0]}, {"p1", params[1]}};
  auto opt = make(std::vector<ParamGroup>{group});
  for (int k = 0; k < 3; ++k) {
    for (int i = 0; i < 2; ++i)
      params[i].set_grad(golden_tensor("optim", "grad" + std::to_string(k) + ".p" + std::to_string(i)));
    opt->step();
    for (int i = 0; i < 2; ++i) {
      std::string key = name + ".step" + std::to_string(k) + ".p" + std::to_string(i);
      check_close(params[i], golden_tensor("optim", key), tol, key);
    }
  }
}
}  // namespace

TEST_CASE("optimizers: three steps match PyTorch") {
  auto with_lr = [](std::vector<ParamGroup> g, double lr, double wd = 0) {
    for (auto& x : g) x.lr = lr, x.weight_decay = wd;
    return g;
  };
  check_optimizer_golden("sgd", [&](auto g) { return std::make_unique<SGD>(with_lr(g, 0.1)); });
  check_optimizer_golden("sgd_momentum_wd", [&](auto g) {
    return std::make_unique<SGD>(with_lr(g, 0.1, 0.01), SGDOptions{.momentum = 0.9, .dampening = 0.1});
  });
  check_optimizer_golden("sgd_nesterov", [&](auto g) {
    return std::make_unique<SGD>(with_lr(g, 0.1), SGDOptions{.momentum = 0.9, .nesterov = true});
  });
  check_optimizer_golden("adam", [&](auto g) { return std::make_unique<Adam>(with_lr(g, 5e-4)); });
  check_optimizer_golden("adam_wd", [&](auto g) { return std::make_unique<Adam>(with_lr(g, 1e-2, 0.1)); });
  check_optimizer_golden("adamw_nobias", [&](auto g) {
    return std::make_unique<AdamW>(with_lr(g, 1e-2, 0.1), AdamWOptions{.correct_bias = false});
  });
  check_optimizer_golden("adamw_bias", [&](auto g) { return std::make_unique<AdamW>(with_lr(g, 1e-2, 0.1)); });
}

TEST_CASE("optimizers: no-decay groups, state save/load resumes exactly") {
  Tree t;
  auto groups = param_groups_with_no_decay(t, 1e-3, 0.1);
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].params.size() == 2);  // the weights
  CHECK(groups[1].params.size() == 2);  // the biases
  CHECK(groups[1].weight_decay == 0);

  // Two optimizers from the same start: one runs 4 steps; the other runs 2, is saved, reloaded
  // into a fresh optimizer, and runs 2 more. The parameters must be bit-identical.
  auto run = [](Tree& model, Optimizer& opt, int steps, uint64_t seed) {
    for (int s = 0; s < steps; ++s) {
      Generator gen(seed + s);
      for (auto& [n, p] : model.named_parameters()) p.set_grad(randn(p.shape(), {}, &gen));
      opt.step();
    }
  };
  Tree a, b;
  AdamW opt_a(param_groups_with_no_decay(a, 1e-2, 0.1), {.correct_bias = false});
  run(a, opt_a, 4, 100);
  AdamW opt_b(param_groups_with_no_decay(b, 1e-2, 0.1), {.correct_bias = false});
  run(b, opt_b, 2, 100);
  std::string path = temp_path("opt.safetensors");
  opt_b.save(path);
  AdamW opt_c(param_groups_with_no_decay(b, 1e-2, 0.1), {.correct_bias = false});
  opt_c.load(path);
  CHECK(opt_c.steps() == 2);
  run(b, opt_c, 2, 102);
  for (auto& [n, p] : a.named_parameters()) CHECK(p.to_vector() == b.state_dict()[n].to_vector());
  // A state file for other parameters is rejected with the path named.
  Leafy other(5);
  AdamW opt_d(param_groups(other, 1e-3));
  CHECK_THROWS_WITH_AS(opt_d.load(path), doctest::Contains(path.c_str()), Error);
  std::filesystem::remove(path);
}

TEST_CASE("schedules: warmup-linear and warmup-cosine") {
  CHECK(warmup_linear(0, 10, 100) == 0.0);
  CHECK(warmup_linear(5, 10, 100) == 0.5);
  CHECK(warmup_linear(10, 10, 100) == 1.0);
  CHECK(warmup_linear(55, 10, 100) == doctest::Approx(0.5));
  CHECK(warmup_linear(100, 10, 100) == 0.0);
  CHECK(warmup_linear(150, 10, 100) == 0.0);
  CHECK(warmup_cosine(10, 10, 110) == 1.0);
  CHECK(warmup_cosine(60, 10, 110) == doctest::Approx(0.5));
  CHECK(warmup_cosine(110, 10, 110) == doctest::Approx(0.0));
  Leafy m(2);
  SGD opt(param_groups(m, 0.1));
  LRScheduler sched(opt, [](int64_t s) { return warmup_linear(s, 2, 4); });
  CHECK(opt.groups()[0].lr == 0.0);
  sched.step();
  CHECK(opt.groups()[0].lr == doctest::Approx(0.05));
  sched.step();
  CHECK(opt.groups()[0].lr == doctest::Approx(0.1));
  sched.step();
  CHECK(opt.groups()[0].lr == doctest::Approx(0.05));
}

TEST_CASE("clip_grad_norm matches PyTorch") {
  std::vector<Tensor> ps = {golden_tensor("optim", "init.p0").requires_grad_(), golden_tensor("optim", "init.p1").requires_grad_()};
  for (int i = 0; i < 2; ++i) ps[i].set_grad(golden_tensor("optim", "grad0.p" + std::to_string(i)) * 3.0);
  double norm = clip_grad_norm(ps, 1.5);
  CHECK(norm == doctest::Approx(golden_tensor("optim", "clip.norm").item()).epsilon(1e-6));
  for (int i = 0; i < 2; ++i)
    check_close(ps[i].grad(), golden_tensor("optim", "clip.grad.p" + std::to_string(i)), {1e-6, 1e-7}, "clipped grad");
}

TEST_CASE("checkpoints: strict, non-strict, prefix, exclude, rename") {
  Tree src;
  {
    NoGradGuard no_grad;
    for (auto& [n, p] : src.named_parameters()) copy_(p, randn(p.shape()));
    fill_(src.first->counter, 7);
  }
  std::string path = temp_path("tree.safetensors");
  save_checkpoint(src, path);

  Tree dst;
  Tensor w_before = dst.first->w;  // loading keeps tensor identity
  LoadReport r = load_checkpoint(dst, path);
  CHECK(r.complete());
  CHECK(r.loaded.size() == 6);
  CHECK(dst.first->w.same(w_before));
  CHECK(dst.first->w.to_vector() == src.first->w.to_vector());
  CHECK(dst.first->counter.item() == 7);

  // A joint checkpoint: take "image_model.*", drop "fc.*".
  std::map<std::string, Tensor> joint;
  for (auto& [n, t] : src.state_dict()) joint["image_model." + n] = t;
  joint["text_model.embeddings.weight"] = zeros({4, 4});
  Tree part;
  CHECK_THROWS_WITH_AS(load_state_dict(part, joint, {.prefix = "image_model.", .exclude = {"fc.*"}}),
                       doctest::Contains("missing keys (3): fc.bias, fc.count, fc.weight"), Error);
  LoadReport pr = load_state_dict(part, joint, {.strict = false, .prefix = "image_model.", .exclude = {"fc.*"}});
  CHECK(pr.loaded.size() == 3);
  CHECK(pr.missing.size() == 3);
  CHECK(pr.unexpected.empty());
  CHECK(part.first->b.to_vector() == src.first->b.to_vector());
  CHECK(part.second->b.to_vector() == std::vector<double>(2, 0.0));

  // Shape mismatches are named; strict loading changes nothing when it fails.
  std::map<std::string, Tensor> wrong = src.state_dict();
  wrong["fc.bias"] = zeros({5});
  wrong["extra"] = zeros({1});
  Tree untouched;
  CHECK_THROWS_WITH_AS(load_state_dict(untouched, wrong), doctest::Contains("fc.bias: checkpoint [5] vs module [2]"), Error);
  CHECK(untouched.first->w.to_vector() == std::vector<double>(6, 0.0));
  LoadReport nr = load_state_dict(untouched, wrong, {.strict = false});
  CHECK(nr.mismatched.size() == 1);
  CHECK(nr.unexpected == std::vector<std::string>{"extra"});

  // Rename.
  std::map<std::string, Tensor> renamed = src.state_dict();
  renamed["old_bias"] = renamed["fc.bias"];
  renamed.erase("fc.bias");
  Tree rn;
  CHECK(load_state_dict(rn, renamed, {.rename = {{"old_bias", "fc.bias"}}}).complete());
  CHECK(rn.second->b.to_vector() == src.second->b.to_vector());

  // A corrupt file names the path.
  std::string bad = temp_path("bad.safetensors");
  { std::ofstream(bad) << "garbage"; }
  CHECK_THROWS_WITH_AS(load_checkpoint(dst, bad), doctest::Contains(bad.c_str()), Error);
  std::filesystem::remove(path);
  std::filesystem::remove(bad);
}
