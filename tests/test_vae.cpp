// test_vae.cpp — the semi-supervised VAE (nn/models/vae.h): shapes and parameter names for the
// 128 and 256 trunks, the decoder mirroring every architecture, vae_loss against PyTorch
// (tests/goldens/vae.safetensors from tools/goldens/vae.py: mixed, all-unlabelled and all-labelled
// batches, both heads and likelihoods) and a float64 gradcheck of it, the reparameterisation's
// determinism, predict's probabilities, argument errors, and Adam steps lowering the loss.
#include <chrono>
#include <cmath>

#include "nn/models/vae.h"
#include "nn/optim.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::nn;
using namespace cxr::testing;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// float32 sums of <= 96 terms (PyTorch) against our double-accumulated reference ops.
const Tolerance kLossF32{1e-5, 1e-5};
const Tolerance kF64{1e-12, 1e-12};

VaeConfig small_config(const std::string& head = "classifier", const std::string& likelihood = "bernoulli") {
  VaeConfig c;
  c.arch = "resnet128_6_2_1";
  c.latent_dim = 8;
  c.head = head;
  c.likelihood = likelihood;
  return c;
}

Tensor int64s(const std::vector<double>& values) {
  return from_vector(values, {int64_t(values.size())}, {.dtype = DType::Int64});
}

// The loss's tensor inputs packed as a VaeOutput (z is not used by the loss).
VaeOutput pack(const Tensor& mu, const Tensor& logvar, const Tensor& rec, const Tensor& label) {
  VaeOutput out;
  out.mu = mu, out.logvar = logvar, out.z = mu, out.reconstruction_logits = rec, out.label_logits = label;
  return out;
}

Tensor stacked(const VaeLoss& l) { return stack({l.total, l.reconstruction, l.kl, l.label}); }

// One resnet128 classifier shared by the tests that only run it (constructing a model costs over a
// million Philox draws, which dominates the unoptimized sanitizer build). Each test sets the mode
// it needs; train-mode outputs do not depend on the running statistics other tests leave behind.
SemiSupervisedVAE& shared_model() {
  static Generator init(5);
  static SemiSupervisedVAE model(small_config(), &init);
  return model;
}

std::map<std::string, Tensor> parameter_map(const Module& m) {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : m.named_parameters()) out[name] = t;
  return out;
}

}  // namespace

TEST_CASE("vae: output shapes and parameter names, resnet128_6_2_1 and resnet256_6_2_1") {
  VaeConfig c256 = small_config("regressor");
  c256.arch = "resnet256_6_2_1";
  c256.latent_dim = 64;
  Generator init(1);
  SemiSupervisedVAE model256(c256, &init);
  for (SemiSupervisedVAE* model : {&shared_model(), &model256}) {
    const VaeConfig& c = model->config;
    INFO(c.arch, " / ", c.head);
    const int64_t S = model->encoder->config.input_size, d = c.latent_dim, outputs = c.head == "classifier" ? 4 : 1;
    const int64_t N = S == 128 ? 2 : 1;  // one 256x256 image keeps the sanitizer build quick
    Generator data(2), sample(3);
    Tensor x = rand({N, 1, S, S}, {}, &data);
    // The 128 model trains (a sampled z); the 256 one evaluates (z = mu), so its predict can be
    // checked against the same forward.
    const bool training = model == &shared_model();
    model->train(training);
    VaeOutput out = model->forward(x, training ? &sample : nullptr);
    CHECK(out.mu.shape() == Shape{N, d});
    CHECK(out.logvar.shape() == Shape{N, d});
    CHECK(out.z.shape() == Shape{N, d});
    CHECK(out.reconstruction_logits.shape() == Shape{N, 1, S, S});
    CHECK(out.label_logits.shape() == Shape{N, outputs});
    Tensor p = model->predict(x);
    CHECK(p.shape() == Shape{N, 4});
    // The regressor's predict: the Gaussian class posterior of f(mu) (checked on its own below).
    if (c.head == "regressor")
      check_close(p, SemiSupervisedVAE::regressor_probabilities(out.label_logits, 4), {1e-6, 1e-7},
                  "regressor predict vs forward");

    auto params = parameter_map(*model);
    const int64_t emb = model->encoder->config.embedding_dim(), s = model->encoder->config.final_map_size();
    CHECK(params.at("encoder.fc1.weight").shape() == Shape{2 * d, emb});
    CHECK(params.at("encoder.layer6.1.bn2.weight").shape() == Shape{192});
    CHECK(params.at("decoder.fc.weight").shape() == Shape{192 * s * s, d});
    CHECK(params.at("decoder.up1.0.weight").shape() == Shape{192, 128, 4, 4});
    CHECK(params.at("decoder.up1.1.weight").shape() == Shape{128});
    CHECK(params.at("decoder.up5.0.weight").shape() == Shape{16, 8, 4, 4});
    CHECK(params.at("decoder.up6.0.weight").shape() == Shape{8, 8, 4, 4});
    CHECK(params.at("decoder.out.weight").shape() == Shape{8, 1, 3, 3});
    CHECK(params.at("decoder.out.bias").shape() == Shape{1});
    CHECK(params.at("label_head.weight").shape() == Shape{outputs, d});
    CHECK(params.count("decoder.up7.0.weight") == 0);
    for (auto& [name, t] : params) {
      const bool known_prefix =
          name.rfind("encoder.", 0) == 0 || name.rfind("decoder.", 0) == 0 || name.rfind("label_head.", 0) == 0;
      CHECK_MESSAGE(known_prefix, name);
    }
    const std::string summary = model->summary();
    CHECK(summary.find("ConvTranspose2d(192, 128, kernel_size=4, stride=2, padding=1)") != std::string::npos);
    CHECK(summary.find("ConvTranspose2d(8, 1, kernel_size=3, stride=1, padding=1)") != std::string::npos);
  }
}

TEST_CASE("vae: the decoder mirrors every encoder, its last layer undoing the stem") {
  struct Expect {
    const char* arch;
    int64_t stages, kernel, stride, output_padding;
  };
  for (const Expect& e : {Expect{"resnet128_6_2_1", 6, 3, 1, 0}, Expect{"resnet256_6_2_1", 6, 3, 1, 0},
                          Expect{"resnet512_6_2_1", 6, 3, 2, 1}, Expect{"resnet1024_7_2_1", 7, 5, 2, 1},
                          Expect{"resnet2048_7_2_1", 7, 7, 4, 3}}) {
    INFO(e.arch);
    ResNetConfig rc = resnet_config(e.arch);
    VaeDecoder dec(rc, 4);
    CHECK(int64_t(dec.stages.size()) == e.stages);
    CHECK(dec.output_size == rc.input_size);
    CHECK(dec.out->weight.shape() == Shape{8, 1, e.kernel, e.kernel});
    CHECK(dec.out->stride.h == e.stride);
    CHECK(dec.out->output_padding.h == e.output_padding);
    // The stage sizes: start at the last map, double per stage, then the stem's transpose; the
    // output size formula of conv_transpose2d gives exactly the input size.
    int64_t size = dec.start_size * (int64_t(1) << e.stages);
    size = (size - 1) * e.stride - 2 * rc.conv1_padding + e.kernel + e.output_padding;
    CHECK(size == rc.input_size);
  }
  // And a decoder forward lands on the input size (the small trunk, to stay fast).
  VaeDecoder dec(resnet_config("resnet128_6_2_1"), 5);
  Generator g(4);
  CHECK(dec.forward(randn({3, 5}, {}, &g)).shape() == Shape{3, 1, 128, 128});
}

TEST_CASE("vae_loss: PyTorch parity (mixed, all-unlabelled, all-labelled batches, both heads and likelihoods)") {
  struct Case {
    const char* name;
    const char* head;
    const char* likelihood;
    double beta, label_weight, gaussian_std;
    int64_t labelled;
  };
  const Case cases[] = {
      {"vae_loss.classifier_bernoulli_mixed", "classifier", "bernoulli", 0.5, 3.0, 0.1, 3},
      {"vae_loss.classifier_bernoulli_unlabelled", "classifier", "bernoulli", 1.0, 100.0, 0.1, 0},
      {"vae_loss.classifier_gaussian_all_labelled", "classifier", "gaussian", 1.0, 10.0, 0.2, 4},
      {"vae_loss.regressor_gaussian_mixed", "regressor", "gaussian", 2.0, 5.0, 0.3, 4},
      {"vae_loss.regressor_bernoulli_unlabelled", "regressor", "bernoulli", 1.0, 100.0, 0.1, 0},
      {"vae_loss.f64", "classifier", "bernoulli", 1.0, 7.0, 0.1, 2},
  };
  for (const Case& k : cases) {
    VaeConfig c = small_config(k.head, k.likelihood);
    c.beta = k.beta, c.label_weight = k.label_weight, c.gaussian_std = k.gaussian_std;
    int64_t labelled = -1;
    auto fn = [&](const std::vector<Tensor>& in) {
      VaeLoss l = vae_loss(pack(in[0], in[1], in[2], in[3]), in[4], in[5], c);
      labelled = l.labelled;
      return stacked(l);
    };
    const bool f64 = std::string(k.name) == "vae_loss.f64";
    check_golden("vae", k.name, fn, f64 ? kF64 : kLossF32, f64 ? kF64 : kLossF32);
    CHECK_MESSAGE(labelled == k.labelled, k.name);
  }
}

TEST_CASE("vae_loss: gradcheck with respect to mu, logvar, reconstruction and label logits") {
  Tensor x = uniform64({4, 1, 3, 3}, 0, 1, 10).detach();
  Tensor labels = int64s({3, -1, 0, 1});
  for (const std::string head : {"classifier", "regressor"}) {
    for (const std::string likelihood : {"bernoulli", "gaussian"}) {
      INFO(head, " / ", likelihood);
      VaeConfig c = small_config(head, likelihood);
      c.beta = 0.7, c.label_weight = 2.5, c.gaussian_std = 0.5;
      auto fn = [&](const std::vector<Tensor>& in) {
        return stacked(vae_loss(pack(in[0], in[1], in[2], in[3]), x, labels, c));
      };
      check_gradcheck(fn, {randn64({4, 2}, 11), randn64({4, 2}, 12), randn64({4, 1, 3, 3}, 13),
                           head == "classifier" ? randn64({4, 4}, 14) : uniform64({4, 1}, 0, 3, 14)});
    }
  }
}

TEST_CASE("vae_loss: the terms combine as documented, and unlabelled rows carry no label gradient") {
  VaeConfig c = small_config();
  c.beta = 0.25, c.label_weight = 4.0;
  Tensor x = uniform64({3, 1, 2, 2}, 0, 1, 20).detach();
  Tensor mu = randn64({3, 2}, 21), logvar = randn64({3, 2}, 22), rec = randn64({3, 1, 2, 2}, 23);
  Tensor label_logits = randn64({3, 4}, 24);
  VaeLoss l = vae_loss(pack(mu, logvar, rec, label_logits), x, int64s({-1, 2, -1}), c);
  CHECK(l.labelled == 1);
  // total = reconstruction + beta kl + label_weight (labelled / N) label
  CHECK(l.total.item() ==
        doctest::Approx(l.reconstruction.item() + 0.25 * l.kl.item() + 4.0 / 3.0 * l.label.item()).epsilon(1e-14));
  // KL is zero exactly at the prior: mu = 0, logvar = 0.
  VaeLoss at_prior = vae_loss(
      pack(zeros({3, 2}, {.dtype = DType::Float64}), zeros({3, 2}, {.dtype = DType::Float64}), rec, label_logits), x,
      int64s({-1, 2, -1}), c);
  CHECK(at_prior.kl.item() == 0.0);
  l.total.backward();
  std::vector<double> g = label_logits.grad().to_vector();
  for (int64_t j = 0; j < 4; ++j) {
    CHECK(g[j] == 0.0);      // row 0 unlabelled
    CHECK(g[8 + j] == 0.0);  // row 2 unlabelled
  }
  CHECK(std::abs(g[4 + 2]) > 0);
  // With no labelled row the label term is 0 and total is the unlabelled ELBO.
  VaeLoss u = vae_loss(pack(mu, logvar, rec, label_logits), x, int64s({-1, -1, -1}), c);
  CHECK(u.labelled == 0);
  CHECK(u.label.item() == 0.0);
  CHECK(u.total.item() == doctest::Approx(u.reconstruction.item() + 0.25 * u.kl.item()).epsilon(1e-14));
}

TEST_CASE("vae: the reparameterised sample is deterministic for a seed, and no generator means z = mu") {
  SemiSupervisedVAE& model = shared_model();
  model.train();
  Generator data(6);
  Tensor x = rand({2, 1, 128, 128}, {}, &data);
  Generator a(7), b(7), other(8);
  VaeOutput first = model.forward(x, &a), second = model.forward(x, &b), third = model.forward(x, &other);
  CHECK(max_abs_diff(first.z, second.z) == 0.0);
  CHECK(max_abs_diff(first.reconstruction_logits, second.reconstruction_logits) == 0.0);
  CHECK(max_abs_diff(first.mu, third.mu) == 0.0);
  CHECK(max_abs_diff(first.z, third.z) > 0.0);
  // z = mu + exp(logvar / 2) * eps, with eps the generator's next normal draw.
  Generator replay(7);
  Tensor eps = randn(first.mu.shape(), {}, &replay);
  check_close(first.z, first.mu + exp(first.logvar * 0.5) * eps, {1e-6, 1e-6}, "z = mu + sigma * eps");
  CHECK(a.offset() == b.offset());
  VaeOutput mean = model.forward(x, nullptr);
  CHECK(max_abs_diff(mean.z, mean.mu) == 0.0);
}

TEST_CASE("vae: predict gives class probabilities from z = mu") {
  Generator data(9);
  Tensor x = rand({2, 1, 128, 128}, {}, &data);
  SUBCASE("classifier: softmax of the head at mu") {
    SemiSupervisedVAE& model = shared_model();
    model.eval();
    Tensor p = model.predict(x);
    check_close(p, softmax(model.forward(x, nullptr).label_logits, 1), {1e-6, 1e-7}, "predict vs forward");
    check_close(sum(p, {1}), ones({2}), {1e-6, 1e-6}, "rows sum to 1");
  }
  SUBCASE("regressor: the classes' posterior under N(y; f, 1)") {
    Tensor f = from_vector({-0.4, 1.2, 2.5, 7.0}, {4, 1}, {.dtype = DType::Float64});
    Tensor p = SemiSupervisedVAE::regressor_probabilities(f, 4);
    REQUIRE(p.shape() == Shape{4, 4});
    for (int64_t i = 0; i < 4; ++i) {
      double z = 0, fi = f.at({i, 0});
      for (int64_t k = 0; k < 4; ++k) z += std::exp(-0.5 * (k - fi) * (k - fi));
      for (int64_t k = 0; k < 4; ++k) CHECK(p.at({i, k}) == doctest::Approx(std::exp(-0.5 * (k - fi) * (k - fi)) / z));
    }
    std::vector<double> arg = argmax(p, 1).to_vector();
    CHECK(arg == std::vector<double>{0, 1, 2, 3});  // the nearest class (2.5 ties 2 and 3: argmax takes the first)
    // Every ordinal score sum_{c >= k} p_c grows with f (so its AUC is f's).
    Tensor fs = from_vector({-1.0, 0.0, 0.7, 1.5, 2.2, 3.0, 4.0}, {7, 1}, {.dtype = DType::Float64});
    Tensor ps = SemiSupervisedVAE::regressor_probabilities(fs, 4);
    for (int64_t k = 1; k < 4; ++k)
      for (int64_t i = 0; i + 1 < 7; ++i) {
        double lo = 0, hi = 0;
        for (int64_t c = k; c < 4; ++c) lo += ps.at({i, c}), hi += ps.at({i + 1, c});
        CHECK(lo < hi);
      }
  }
}

TEST_CASE("vae: errors name the problem") {
  auto bad = [](auto edit) {
    VaeConfig c = small_config();
    edit(c);
    return c;
  };
  CHECK_THROWS_WITH_AS(SemiSupervisedVAE(bad([](VaeConfig& c) { c.head = "ordinal"; })),
                       doctest::Contains("vae: unknown head 'ordinal'"), Error);
  CHECK_THROWS_WITH_AS(SemiSupervisedVAE(bad([](VaeConfig& c) { c.likelihood = "laplace"; })),
                       doctest::Contains("vae: unknown likelihood 'laplace'"), Error);
  CHECK_THROWS_WITH_AS(SemiSupervisedVAE(bad([](VaeConfig& c) { c.latent_dim = 0; })),
                       doctest::Contains("vae: latent_dim must be positive"), Error);
  CHECK_THROWS_WITH_AS(SemiSupervisedVAE(bad([](VaeConfig& c) { c.arch = "resnet64"; })),
                       doctest::Contains("unknown architecture 'resnet64'"), Error);
  CHECK_THROWS_WITH_AS(SemiSupervisedVAE(bad([](VaeConfig& c) { c.beta = -1; })),
                       doctest::Contains("vae: beta must be non-negative"), Error);

  VaeConfig c = small_config();
  Tensor mu = zeros({2, 3}), rec = zeros({2, 1, 4, 4}), x = zeros({2, 1, 4, 4}), lab = zeros({2, 4});
  CHECK_THROWS_WITH_AS(vae_loss(pack(mu, mu, rec, lab), x, int64s({0, 4}), c),
                       doctest::Contains("vae_loss: label 4 is neither -1 (unlabelled) nor a class in [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(vae_loss(pack(mu, mu, rec, lab), x, int64s({0, -2}), c), doctest::Contains("label -2"), Error);
  CHECK_THROWS_WITH_AS(vae_loss(pack(mu, mu, rec, lab), x, zeros({2}), c),
                       doctest::Contains("vae_loss: labels must be int64 (2), got float32"), Error);
  CHECK_THROWS_WITH_AS(vae_loss(pack(mu, mu, zeros({2, 1, 4, 5}), lab), x, int64s({0, 1}), c),
                       doctest::Contains("vae_loss: reconstruction_logits [2, 1, 4, 5] do not match x [2, 1, 4, 4]"),
                       Error);
  CHECK_THROWS_WITH_AS(vae_loss(pack(mu, mu, rec, zeros({2, 1})), x, int64s({0, 1}), c),
                       doctest::Contains("vae_loss: label_logits must be (2, 4) for the classifier head, got [2, 1]"),
                       Error);
  CHECK_THROWS_WITH_AS(vae_loss(pack(mu, zeros({2, 2}), rec, lab), x, int64s({0, 1}), c),
                       doctest::Contains("vae_loss: mu [2, 3] and logvar [2, 2] must both be (N, latent_dim)"), Error);
  CHECK_THROWS_WITH_AS(shared_model().forward(zeros({1, 1, 64, 64}), nullptr),
                       doctest::Contains("resnet128_6_2_1: expected input (N, 1, 128, 128)"), Error);
}

TEST_CASE("vae: Adam steps on a fixed batch lower the loss") {
  if (kSanitized) {
    skip_test("30 VAE training steps are too slow in the unoptimized sanitizer build; the Release build runs them");
    return;
  }
  if (cpu_kernels() == CpuKernels::Reference) {
    skip_test(
        "30 VAE training steps take over a minute on the reference loop-nest kernels; the fast-kernel run "
        "executes them (the parity tests cover both kernel sets)");
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  // Three 128x128 images: a bright disc whose radius grows with the class, on a dark background.
  const int64_t N = 3, S = 128;
  std::vector<double> pixels;
  const double radius[N] = {12, 30, 48};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j) {
        const double r = std::hypot(i - S / 2.0, j - S / 2.0);
        pixels.push_back(r < radius[n] ? 0.9 : 0.1);
      }
  Tensor x = from_vector(pixels, {N, 1, S, S});
  Tensor labels = int64s({0, -1, 3});  // one unlabelled image

  VaeConfig c = small_config();
  c.label_weight = 10;
  Generator init(13), sample(14);
  SemiSupervisedVAE model(c, &init);
  Adam adam(param_groups(model, 3e-3));
  const int kSteps = 30;
  std::vector<double> totals, labels_nll;
  for (int step = 0; step < kSteps; ++step) {
    adam.zero_grad();
    VaeLoss l = vae_loss(model.forward(x, &sample), x, labels, c);
    l.total.backward();
    adam.step();
    totals.push_back(l.total.item());
    labels_nll.push_back(l.label.item());
  }
  auto mean_of = [](const std::vector<double>& v, size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += v[i];
    return s / double(to - from);
  };
  INFO("total: first ", totals.front(), ", last ", totals.back(), "; label nll: first ", labels_nll.front(), ", last ",
       labels_nll.back());
  CHECK(std::isfinite(totals.back()));
  CHECK(mean_of(totals, kSteps - 5, kSteps) < 0.7 * mean_of(totals, 0, 5));
  CHECK(mean_of(labels_nll, kSteps - 5, kSteps) < 0.7 * mean_of(labels_nll, 0, 5));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE(kSteps, " VAE steps on 3 images of 128x128: ", seconds, " s");
}
