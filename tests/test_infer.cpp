// test_infer.cpp — `cxr infer` run as a program (build/cxr): logits on the 16 mimic-examples images
// against PyTorch (tests/fixtures/mimic_examples_logits.json and resnet256_bf16.safetensors, from
// tools/make_infer_fixture.py; skipped visibly when ../shared/data is absent), the embedding, and
// the error paths: bad images (exit 1, the others still printed), bad checkpoints (exit 2), --help.
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/image.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;
using nlohmann::json;

namespace {

// Logits: |cxr - PyTorch| <= kAtol + kRtol * |PyTorch|. Both run float32; PyTorch's own float32
// logits differ from a float64 run by ~1.4e-6 (recorded in the fixture), ours by the same order.
constexpr double kAtol = 1e-5, kRtol = 1e-5;

const std::string kCheckpoint = source_path("tests/fixtures/resnet256_bf16.safetensors");
const std::string kMimicImages = source_path("../shared/data/mimic-examples/images");

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliResult {
  int exit_code = -1;
  std::string out, err;
  std::vector<json> lines;  // stdout parsed as one JSON object per line
};

// Runs build/cxr; with json_lines, every stdout line must be a JSON object.
CliResult run_cli(const std::vector<std::string>& args, bool json_lines = true) {
  static int calls = 0;
  const std::string out_path = temp_path("stdout" + std::to_string(calls)), err_path = temp_path("stderr" + std::to_string(calls));
  ++calls;
  std::string cmd = shell_quote(CXR_CLI_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(out_path) + " 2>" + shell_quote(err_path);
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  std::istringstream lines(r.out);
  if (json_lines)
  for (std::string line; std::getline(lines, line);) {
    try {
      r.lines.push_back(json::parse(line));
    } catch (const json::exception& e) {
      FAIL_CHECK("stdout line is not JSON: ", line, " (", std::string(e.what()), ")");
    }
  }
  return r;
}

std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::vector<double> numbers(const json& j) { return j.get<std::vector<double>>(); }

// max |a - b|, checking a.size() == b.size() and the tolerance elementwise.
double compare(const std::vector<double>& actual, const std::vector<double>& expected, const std::string& what) {
  INFO(what);
  REQUIRE(actual.size() == expected.size());
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double d = std::abs(actual[i] - expected[i]);
    worst = std::max(worst, d);
    CHECK_MESSAGE(d <= kAtol + kRtol * std::abs(expected[i]), "element ", i, ": ", actual[i], " vs PyTorch ", expected[i]);
  }
  return worst;
}

json fixture() {
  std::ifstream in(source_path("tests/fixtures/mimic_examples_logits.json"));
  REQUIRE_MESSAGE(in.good(), "tests/fixtures/mimic_examples_logits.json is missing (tools/make_infer_fixture.py)");
  return json::parse(in);
}

std::string write_random_png(const std::string& name, int64_t height, int64_t width, int bit_depth, uint64_t seed) {
  Generator g(seed);
  Tensor pixels = randint(0, bit_depth == 8 ? 256 : 65536, {height, width}, {.dtype = DType::Int64}, &g);
  std::string path = temp_path(name);
  data::write_png(path, pixels, bit_depth);
  return path;
}

}  // namespace

TEST_CASE("infer: logits on the 16 mimic-examples images match PyTorch") {
  if (!std::filesystem::is_directory(kMimicImages)) return skip_test(kMimicImages + " is absent");
  const json fx = fixture();
  std::vector<std::string> args = {"infer", "--arch", fx["arch"].get<std::string>(), "--weights", kCheckpoint, "--output-channels",
                                   std::to_string(fx["output_channels"].get<int>())};
  REQUIRE(fx["logits"].size() == 16);
  size_t count = 16;
#ifdef __SANITIZE_ADDRESS__
  // Debug + ASan runs the reference kernels ~40x slower (~20 s per image): the same code path on
  // 4 images; the release build checks all 16.
  count = 4;
  MESSAGE("sanitizer build: comparing 4 of the 16 images");
#endif
  for (const auto& [name, logits] : fx["logits"].items())
    if (args.size() < 7 + count) args.push_back(kMimicImages + "/" + name);
  CliResult r = run_cli(args);
  INFO("stderr: ", r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  REQUIRE(r.lines.size() == count);
  double worst = 0;
  for (size_t i = 0; i < r.lines.size(); ++i) {
    const json& line = r.lines[i];
    const std::string name = file_name(line["image"].get<std::string>());
    CHECK(line["image"] == args[7 + i]);  // in the order given
    REQUIRE_MESSAGE(fx["logits"].contains(name), name);
    const std::vector<double> logits = numbers(line["logits"]), expected = numbers(fx["logits"][name]);
    worst = std::max(worst, compare(logits, expected, name + ": logits"));
    // probabilities = softmax(logits)
    const std::vector<double> p = numbers(line["probabilities"]);
    REQUIRE(p.size() == logits.size());
    double z = 0, m = *std::max_element(logits.begin(), logits.end()), total = 0;
    for (double l : logits) z += std::exp(l - m);
    for (size_t k = 0; k < p.size(); ++k) {
      CHECK(p[k] == doctest::Approx(std::exp(logits[k] - m) / z).epsilon(1e-6));
      total += p[k];
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(!line.contains("embedding"));
  }
  MESSAGE("max |logit(cxr) - logit(PyTorch)| over ", count, " mimic-examples images: ", worst, " (PyTorch float32 vs float64: ",
          fx["torch_float32_vs_float64_max_abs_logit_diff"].get<double>(), ")");
}

TEST_CASE("infer: --embedding prints the 768-d z that PyTorch computes") {
  if (!std::filesystem::is_directory(kMimicImages)) return skip_test(kMimicImages + " is absent");
  const json fx = fixture();
  const std::string name = fx["embedding"]["image"].get<std::string>();
  CliResult r = run_cli({"infer", "--weights", kCheckpoint, "--embedding", kMimicImages + "/" + name});
  INFO("stderr: ", r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.lines.size() == 1);
  const std::vector<double> z = numbers(r.lines[0]["embedding"]);
  CHECK(z.size() == 768);
  double worst = compare(z, numbers(fx["embedding"]["values"]), name + ": embedding");
  compare(numbers(r.lines[0]["logits"]), numbers(fx["logits"][name]), name + ": logits");
  MESSAGE("max |z(cxr) - z(PyTorch)|: ", worst);
}

TEST_CASE("infer: bad images are reported, the others still print, exit code 1") {
  const std::string good16 = write_random_png("good16.png", 300, 260, 16, 1);
  const std::string good8 = write_random_png("good8.png", 256, 256, 8, 2);
  const std::string small = write_random_png("small.png", 300, 100, 16, 3);
  const std::string garbage = temp_path("garbage.png"), missing = temp_path("missing.png");
  std::ofstream(garbage) << "not a PNG at all";

  CliResult r = run_cli({"infer", "--weights", kCheckpoint, good16, garbage, small, missing, good8});
  INFO("stderr: ", r.err);
  CHECK(r.exit_code == 1);
  REQUIRE(r.lines.size() == 2);
  CHECK(r.lines[0]["image"] == good16);
  CHECK(r.lines[1]["image"] == good8);
  CHECK(numbers(r.lines[0]["logits"]).size() == 4);
  CHECK(contains(r.err, garbage + ": not a readable PNG or JPEG image"));
  CHECK(contains(r.err, small + ": image is 100x300 (width x height), smaller than the 256x256 input"));
  CHECK(contains(r.err, missing + ": cannot read image: no such file"));
  CHECK(contains(r.err, "3 of 5 images failed"));

  // Each image is independent of the others on the command line.
  CliResult alone = run_cli({"infer", "--weights", kCheckpoint, good16});
  CHECK(alone.exit_code == 0);
  REQUIRE(alone.lines.size() == 1);
  CHECK(alone.lines[0]["logits"] == r.lines[0]["logits"]);
  CHECK(alone.err.empty());
  for (const auto& p : {good16, good8, small, garbage}) std::filesystem::remove(p);
}

TEST_CASE("infer: a bad checkpoint is exit code 2 with the reason") {
  const std::string image = write_random_png("ckpt_image.png", 256, 256, 16, 4);
  SUBCASE("not a safetensors file") {
    const std::string bad = temp_path("bad.safetensors");
    std::ofstream(bad) << "garbage";
    CliResult r = run_cli({"infer", "--weights", bad, image});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(contains(r.err, bad + ": invalid safetensors file"));
    std::filesystem::remove(bad);
  }
  SUBCASE("missing file") {
    CliResult r = run_cli({"infer", "--weights", temp_path("nope.safetensors"), image});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "nope.safetensors: cannot open for reading"));
  }
  SUBCASE("a tensor missing") {
    SafetensorsFile f = read_safetensors(kCheckpoint);
    REQUIRE(f.tensors.erase("layer3.1.bn2.running_var") == 1);
    const std::string partial = temp_path("partial.safetensors");
    write_safetensors(partial, f.tensors);
    CliResult r = run_cli({"infer", "--weights", partial, image});
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(contains(r.err, "missing keys (1): layer3.1.bn2.running_var"));
    std::filesystem::remove(partial);
  }
  SUBCASE("--output-channels disagreeing with the checkpoint") {
    CliResult r = run_cli({"infer", "--weights", kCheckpoint, "--output-channels", "3", image});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "fc1.weight: checkpoint [4, 768] vs module [3, 768]"));
  }
  std::filesystem::remove(image);
}

TEST_CASE("infer: --help and command-line errors") {
  CliResult top = run_cli({"--help"}, false);
  CHECK(top.exit_code == 0);
  CHECK(contains(top.out, "infer"));
  CliResult help = run_cli({"infer", "--help"}, false);
  CHECK(help.exit_code == 0);
  for (const char* option : {"--arch", "--weights", "--output-channels", "--embedding", "resnet256_6_2_1"})
    CHECK_MESSAGE(contains(help.out, option), option);
  CHECK(run_cli({}, false).exit_code != 0);                                          // no subcommand
  CHECK(run_cli({"nonsense"}, false).exit_code != 0);                                // unknown subcommand
  CHECK(contains(run_cli({"infer", "x.png"}, false).err, "--weights is required"));  // required option
  CliResult arch = run_cli({"infer", "--arch", "resnet9", "--weights", kCheckpoint, "x.png"}, false);
  CHECK(arch.exit_code != 0);
  CHECK(contains(arch.err, "resnet9"));
}

TEST_CASE("checkpoint converter: every kept dtype reads back in cxr") {
  // tests/fixtures/converted_dtypes.safetensors: tools/convert_torch_checkpoint.py --prefix-strip
  // module. on a {"state_dict": ..., "epoch": 3} checkpoint (tools/make_infer_fixture.py).
  SafetensorsFile f = read_safetensors(source_path("tests/fixtures/converted_dtypes.safetensors"));
  CHECK(f.metadata.at("format") == "pt");
  CHECK(f.metadata.at("converter") == "tools/convert_torch_checkpoint.py");
  std::vector<std::string> keys;
  for (const auto& [k, t] : f.tensors) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"bf16", "bool", "empty", "f16", "f32", "f64", "i64", "scalar", "transposed"});
  auto values = [&](const std::string& k) { return f.tensors.at(k).to_vector(); };
  CHECK(f.tensors.at("f32").shape() == Shape{2, 3});
  CHECK(values("f32") == std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5});
  CHECK(f.tensors.at("f64").dtype() == DType::Float64);
  CHECK(values("f64") == std::vector<double>{0.1, -1e300, 2.0});
  CHECK(f.tensors.at("i64").dtype() == DType::Int64);
  CHECK(values("i64") == std::vector<double>{-3, 0, 1099511627776.0});
  CHECK(f.tensors.at("bool").dtype() == DType::Bool);
  CHECK(values("bool") == std::vector<double>{1, 0, 1});
  CHECK(f.tensors.at("bf16").dtype() == DType::Float32);  // BF16 and F16 are read as float32
  CHECK(values("bf16") == std::vector<double>{1.5, -2.25, 3.140625, 0.10009765625});
  CHECK(values("f16") == std::vector<double>{0.5, -65504.0, std::ldexp(1.0, -24)});
  CHECK(f.tensors.at("scalar").shape() == Shape{});
  CHECK(values("scalar") == std::vector<double>{7});
  CHECK(f.tensors.at("transposed").shape() == Shape{3, 2});
  CHECK(values("transposed") == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(f.tensors.at("empty").shape() == Shape{0, 3});
}
