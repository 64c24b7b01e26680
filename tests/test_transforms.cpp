// test_transforms.cpp — data/transforms against goldens from Debian's Pillow / torchvision
// (tools/goldens/transforms.py): PIL bilinear resize in modes L, I, F (exact: same arithmetic),
// torchvision Resize(int) sizes, RandomAffine geometry on I;16 about both centres (exact), the
// joint model's translate-and-crop (exact); plus the sampling rules and determinism by seed.
#include <cmath>
#include <map>
#include <set>

#include "data/image.h"
#include "data/transforms.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::testing;

namespace {

std::vector<std::string> cases_with_prefix(const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& [key, _] : golden("transforms").tensors) {
    if (key.rfind(prefix, 0) == 0 && key.size() > 4 && key.substr(key.size() - 4) == ".out")
      names.push_back(key.substr(0, key.size() - 4));
  }
  return names;
}

std::vector<double> args_of(const std::string& name) { return golden_tensor("transforms", name + ".args").to_vector(); }

// Exact comparison, reporting how many pixels differ and the largest difference.
void check_exact(const Tensor& actual, const Tensor& expected, const std::string& what, double atol = 0) {
  INFO(what);
  REQUIRE_MESSAGE(actual.shape() == expected.shape(), "shape ", shape_str(actual.shape()), " vs expected ",
                  shape_str(expected.shape()));
  std::vector<double> a = actual.to_vector(), e = expected.to_vector();
  int64_t differ = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(a[i] - e[i]);
    if (d > atol) ++differ;
    worst = std::max(worst, d);
  }
  CHECK_MESSAGE(differ == 0, differ, " of ", a.size(), " pixels differ (max |diff| ", worst, ")");
}

}  // namespace

TEST_CASE("resize_bilinear matches PIL Image.resize(BILINEAR) in modes L, I and F") {
  auto names = cases_with_prefix("resize.");
  REQUIRE(names.size() == 27);
  for (const auto& name : names) {
    auto args = args_of(name);
    Tensor x = golden_tensor("transforms", name + ".in0");
    Tensor out = resize_bilinear(x, int64_t(args[0]), int64_t(args[1]), PilMode(int(args[2])));
    // L and I are integer results computed with PIL's arithmetic: exact. F: PIL accumulates in
    // double and stores float32, as here: exact too.
    check_exact(out, golden_tensor("transforms", name + ".out"), name);
  }
}

TEST_CASE("resize_shorter_edge matches torchvision Resize(int) on PIL images") {
  auto names = cases_with_prefix("shorter.");
  REQUIRE(names.size() == 5);
  for (const auto& name : names) {
    auto args = args_of(name);
    Tensor x = golden_tensor("transforms", name + ".in0");
    Tensor out = resize_shorter_edge(x, int64_t(args[0]), PilMode(int(args[1])));
    check_exact(out, golden_tensor("transforms", name + ".out"), name);
  }
  // Sizes: the longer edge is truncated, the shorter is exact; square images stay square.
  CHECK(shorter_edge_size(3056, 2544, 256) == std::pair<int64_t, int64_t>{307, 256});
  CHECK(shorter_edge_size(2544, 3056, 256) == std::pair<int64_t, int64_t>{256, 307});
  CHECK(shorter_edge_size(100, 100, 7) == std::pair<int64_t, int64_t>{7, 7});
  CHECK(shorter_edge_size(299, 100, 50) == std::pair<int64_t, int64_t>{149, 50});
}

TEST_CASE("resize_bilinear works plane by plane and checks its arguments") {
  Tensor x = golden_tensor("transforms", "resize.F.down_odd.in0");
  Tensor batch = stack({x, x * 2.0}, 0).unsqueeze(1);  // (2, 1, H, W)
  Tensor out = resize_bilinear(batch, 23, 16, PilMode::F);
  CHECK(out.shape() == Shape{2, 1, 23, 16});
  check_close(out.select(0, 1).select(0, 0), resize_bilinear(x * 2.0, 23, 16), {0, 0}, "plane 1");
  CHECK_THROWS_AS(resize_bilinear(x, 0, 4), Error);
  CHECK_THROWS_AS(resize_bilinear(zeros({5}), 2, 2), Error);
  // Mode L clips: values above 255 saturate as they would in an 8-bit image.
  Tensor big = full({4, 4}, 300.0);
  CHECK(resize_bilinear(big, 2, 2, PilMode::L).to_vector() == std::vector<double>(4, 255.0));
}

TEST_CASE("affine_nearest matches torchvision F.affine on a PIL I16 image about both centres") {
  auto names = cases_with_prefix("affine.");
  REQUIRE(names.size() == 14);
  for (const auto& name : names) {
    auto a = args_of(name);
    Tensor x = golden_tensor("transforms", name + ".in0");
    auto m = inverse_affine_matrix(a[0], a[1], a[2], a[3], a[4]);
    check_exact(affine_nearest(x, m), golden_tensor("transforms", name + ".out"), name);
    // The AffineCenter shortcuts pick the same centres.
    const bool ref = name.find("affine.ref.") == 0;
    AffineParams p{a[0], int64_t(a[1]), int64_t(a[2])};
    check_exact(affine_nearest(x, p, ref ? AffineCenter::Reference : AffineCenter::Torchvision),
                golden_tensor("transforms", name + ".out"), name + " (AffineCenter)");
  }
  // The half-pixel centre difference between torchvision 0.4 and >= 0.8 is visible in the goldens,
  // so these comparisons can tell the two apart.
  Tensor ref = golden_tensor("transforms", "affine.ref.rot_m13_shift.out");
  Tensor tv = golden_tensor("transforms", "affine.tv.rot_m13_shift.out");
  CHECK(max_abs_diff(ref, tv) > 0);
}

TEST_CASE("affine_nearest: identity, pure translation and a 90-degree turn") {
  Tensor x = arange(12).reshape({3, 4});
  CHECK(affine_nearest(x, AffineParams{0, 0, 0}).to_vector() == x.to_vector());
  // Translation by (+1, 0) moves content right; column 0 is filled with 0.
  Tensor moved = affine_nearest(x, AffineParams{0, 1, 0});
  CHECK(moved.to_vector() == std::vector<double>{0, 0, 1, 2, 0, 4, 5, 6, 0, 8, 9, 10});
  // Shape is kept; a batch gets one geometry for every plane.
  Tensor batch = stack({x, x + 100.0}, 0);
  Tensor r = affine_nearest(batch, AffineParams{90, 0, 0}, AffineCenter::Torchvision);
  CHECK(r.shape() == Shape{2, 3, 4});
}

TEST_CASE("RandomAffine samples angle, then rounded translations, deterministically by seed") {
  RandomAffine t;  // degrees (-20, 20), translate (0.1, 0.1): the reference's
  std::set<int64_t> txs;
  double min_angle = 1e9, max_angle = -1e9;
  Generator g(7);
  for (int i = 0; i < 4000; ++i) {
    AffineParams p = t.sample(g, 256, 300);
    CHECK(std::fabs(p.angle) <= 20.0);
    CHECK(std::llabs(p.tx) <= 30);  // round(U(-30, 30))
    CHECK(std::llabs(p.ty) <= 26);  // round(U(-25.6, 25.6)) can reach 26
    txs.insert(p.tx);
    min_angle = std::min(min_angle, p.angle);
    max_angle = std::max(max_angle, p.angle);
  }
  CHECK(g.offset() == 3 * 4000);
  CHECK(txs.size() == 61);  // every integer in [-30, 30] occurs
  CHECK(min_angle < -19.9);
  CHECK(max_angle > 19.9);
  // Same seed, same parameters; a different seed, different ones.
  Generator a(11), b(11), c(12);
  AffineParams pa = t.sample(a, 64, 64), pb = t.sample(b, 64, 64), pc = t.sample(c, 64, 64);
  CHECK(pa.angle == pb.angle);
  CHECK(pa.tx == pb.tx);
  CHECK(pa.angle != pc.angle);
  // Applying it is the deterministic warp with the sampled parameters.
  Tensor x = golden_tensor("transforms", "affine.ref.rot7.in0");
  Generator d(5), e(5);
  check_exact(t(x, d), affine_nearest(x, t.sample(e, x.size(0), x.size(1)), AffineCenter::Reference), "RandomAffine()");
  RandomAffine bad{.min_degrees = 5, .max_degrees = -5};
  CHECK_THROWS_AS(bad.sample(d, 8, 8), Error);
}

TEST_CASE("round_half_even is Python's round") {
  CHECK(round_half_even(0.5) == 0);
  CHECK(round_half_even(1.5) == 2);
  CHECK(round_half_even(2.5) == 2);
  CHECK(round_half_even(-0.5) == 0);
  CHECK(round_half_even(-1.5) == -2);
  CHECK(round_half_even(-2.5) == -2);
  CHECK(round_half_even(2.4999) == 2);
  CHECK(round_half_even(-3.7) == -4);
}

TEST_CASE("translate_crop matches the joint model's pad-and-crop") {
  auto names = cases_with_prefix("translate_crop.");
  REQUIRE(names.size() == 7);
  for (const auto& name : names) {
    auto a = args_of(name);
    Tensor x = golden_tensor("transforms", name + ".in0");
    Tensor out = translate_crop(x, int64_t(a[0]), int64_t(a[1]), int64_t(a[2]), int64_t(a[3]));
    check_exact(out, golden_tensor("transforms", name + ".out"), name);
  }
}

TEST_CASE("RandomTranslateCrop: truncated Gaussian shifts, zeroed beyond two sigma, by seed") {
  RandomTranslateCrop t{.out_h = 64, .out_w = 64, .shift_mean = 0, .shift_std = 10};
  Generator g(3);
  int zeros_h = 0, n = 20000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    auto [sh, sw] = t.sample(g);
    CHECK(std::llabs(sh) <= 20);
    CHECK(std::llabs(sw) <= 20);
    zeros_h += sh == 0;
    sum += double(sh);
    sum2 += double(sh) * double(sh);
  }
  // P(shift = 0) = P(|N(0, 10)| < 1) + P(|N| > 20) = 0.0797 + 0.0455, about 0.125.
  CHECK(double(zeros_h) / n == doctest::Approx(0.125).epsilon(0.12));
  CHECK(std::fabs(sum / n) < 0.3);
  CHECK(std::sqrt(sum2 / n) == doctest::Approx(8.2).epsilon(0.08));  // sd of the censored shift
  Tensor x = golden_tensor("transforms", "translate_crop.shift_odd.in0");
  Generator a(9), b(9);
  auto [sh, sw] = t.sample(b);
  check_exact(t(x, a), translate_crop(x, 64, 64, sh, sw), "RandomTranslateCrop()");
}
