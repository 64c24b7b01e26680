// main.cpp — cxr-kernels, the kernel study's bench (harness.h; docs/KERNELS.md):
//   cxr-kernels [--op NAME]... [--quick] [--check-only] [--runs N] [--out FILE.json]
// For each registered family (op), each problem, each version of its ladder, then the library:
// check against the CPU reference, then time (CUDA events, L2 flushed before each run, the median
// of --runs >= 20 runs). Prints one table row per (problem, version) and writes the JSON to --out
// (default bench/results/kernels-<UTC time>.json). --quick runs the small shapes and implies
// --check-only: what the CPU emulator can do in a test (make test-cuda-emulated).
// Columns: the median ms, GFLOP/s (or GB/s for memory-bound ops), the percent of the measured peak
// that applies (FP32, TF32, BF16 or DRAM), and "x lib" = the library's time / this version's time
// (1.00: as fast as cuBLAS/cuDNN on that problem; the docs' targets are stated in this ratio).
// Exit status: 0 when every version that ran passed its check, 1 when one failed, 2 for bad usage,
// 77 when there is no CUDA device (ctest reports that as skipped).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "bench/cuda/harness.h"
#include "cuda/kernels/roofline.h"
#include "cuda/runtime.h"
#include "tensor/error.h"

namespace cxr::bench {

std::vector<Family>& families() {
  static std::vector<Family> all;
  return all;
}

CheckResult check_against_reference(const Tensor& output, const Tensor& reference, Tolerance tol) {
  CheckResult r;
  CXR_CHECK(output.shape() == reference.shape(), "check: output shape ", shape_str(output.shape()),
            " vs reference ", shape_str(reference.shape()));
  const std::vector<double> out = output.to_vector(), ref = reference.to_vector();
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(ref[i])) {
      ++r.non_finite_reference;
      continue;
    }
    ++r.checked;
    const double err = std::abs(out[i] - ref[i]);
    r.max_abs_error = std::max(r.max_abs_error, err);
    if (ref[i] != 0) r.max_rel_error = std::max(r.max_rel_error, err / std::abs(ref[i]));
    if (!(err <= tol.atol + tol.rtol * std::abs(ref[i]))) {
      if (r.bad++ == 0) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "index %zu: %.8g vs reference %.8g", i, out[i], ref[i]);
        r.first_bad = buf;
      }
    }
  }
  r.ok = r.bad == 0;
  return r;
}

}  // namespace cxr::bench

namespace {

using namespace cxr;
using namespace cxr::bench;
using nlohmann::json;

struct Options {
  std::set<std::string> ops;
  bool quick = false, check_only = false;
  int runs = 20;
  std::string out;
};

int usage() {
  std::fprintf(stderr, "usage: cxr-kernels [--op NAME]... [--quick] [--check-only] [--runs N>=20] [--out FILE.json]\nops:");
  for (const Family& f : families()) std::fprintf(stderr, " %s", f.op.c_str());
  std::fprintf(stderr, "\n");
  return 2;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The median time of `runs` runs of `version`, each after an L2 flush.
double time_version(Case& c, int version, int runs) {
  cuda::Timer timer;
  c.run(version);  // warm-up (and lazy library set-up)
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    cuda::flush_l2();
    timer.start();
    c.run(version);
    timer.stop();
    ms.push_back(timer.elapsed_ms());
  }
  return median(ms);
}

std::string default_out() {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "kernels-%Y%m%dT%H%M%SZ.json", std::gmtime(&t));
  return std::string(CXR_SOURCE_DIR) + "/bench/results/" + buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--op") o.ops.insert(value());
    else if (a == "--quick") o.quick = o.check_only = true;
    else if (a == "--check-only") o.check_only = true;
    else if (a == "--runs") o.runs = std::atoi(value().c_str());
    else if (a == "--out") o.out = value();
    else return usage();
  }
  if (o.runs < 20 && !o.check_only) {
    std::fprintf(stderr, "cxr-kernels: --runs must be at least 20 (a median of fewer runs is noise)\n");
    return 2;
  }
  for (const std::string& op : o.ops) {
    bool known = false;
    for (const Family& f : families()) known = known || f.op == op;
    if (!known) return usage();
  }
  if (!cuda::available()) {
    std::fprintf(stderr, "cxr-kernels: skipped: %s\n", cuda::status().c_str());
    return 77;
  }
  if (o.out.empty()) o.out = default_out();

  json report;
  report["device"] = cuda::status();
  report["emulated"] = cuda::emulated();
  report["mode"] = o.quick ? "quick (checks only)" : o.check_only ? "checks only" : "check and time";
  cuda::RooflineRates peaks;
  if (!o.check_only && !cuda::emulated()) {
    peaks = cuda::measure_roofline();
    report["peaks"] = {{"fp32_gflops", peaks.fp32_gflops}, {"tf32_gflops", peaks.tf32_gflops},
                       {"bf16_gflops", peaks.bf16_gflops}, {"dram_gbps", peaks.dram_gbps}};
    std::printf("measured peaks: FP32 %.0f GFLOP/s, TF32 %.0f GFLOP/s, BF16 %.0f GFLOP/s, DRAM %.0f GB/s\n",
                peaks.fp32_gflops, peaks.tf32_gflops, peaks.bf16_gflops, peaks.dram_gbps);
  }
  std::printf("%-10s %-44s %-26s %-7s %10s %10s %8s %8s\n", "op", "problem", "version", "check", "ms", "rate",
              "%peak", "x lib");
  json rows = json::array();
  bool all_ok = true;
  for (const Family& f : families()) {
    if (!o.ops.empty() && !o.ops.count(f.op)) continue;
    for (const Problem& p : f.problems(o.quick)) {
      std::unique_ptr<Case> c = f.make(p);
      double library_ms = 0;
      if (!f.library.empty() && !o.check_only) library_ms = time_version(*c, kLibrary, o.runs);
      std::vector<int> versions;
      for (const auto& v : f.ladder->versions) versions.push_back(v.number);
      if (!f.library.empty() && !cuda::emulated()) versions.push_back(kLibrary);
      for (int number : versions) {
        const bool library = number == kLibrary;
        const cuda::KernelVersion lib_version{0, f.library, "the library", true, false};
        const cuda::KernelVersion& v = library ? lib_version : f.ladder->version(number);
        json row = {{"op", f.op}, {"problem", p.label}, {"version", number}, {"name", v.name}};
        if (cuda::emulated() && !v.emulated) {
          row["check"] = "not run (the emulator cannot run this version)";
          rows.push_back(row);
          std::printf("%-10s %-44s %-26s %-7s\n", f.op.c_str(), p.label.c_str(), v.name.c_str(), "n/a");
          continue;
        }
        c->run(number);
        const CheckResult check = check_against_reference(c->output(), c->reference(), f.tolerance(v, p));
        row["check"] = {{"ok", check.ok},          {"checked", check.checked},
                        {"bad", check.bad},        {"non_finite_reference", check.non_finite_reference},
                        {"max_abs_error", check.max_abs_error}, {"max_rel_error", check.max_rel_error},
                        {"first_bad", check.first_bad}};
        all_ok = all_ok && check.ok;
        std::string rate, percent, ratio, ms_text;
        if (check.ok && !o.check_only) {
          const double ms = library ? library_ms : time_version(*c, number, o.runs);
          const bool compute = p.flops > 0;
          const double r = compute ? p.flops / (ms * 1e6) : p.bytes / (ms * 1e6);  // GFLOP/s or GB/s
          const double peak = !compute ? peaks.dram_gbps
                              : v.exact_fp32 ? peaks.fp32_gflops
                              : v.name.find("bf16") != std::string::npos ? peaks.bf16_gflops
                                                                         : peaks.tf32_gflops;
          row["ms"] = ms;
          row[compute ? "gflops" : "gbps"] = r;
          if (peak > 0) row["fraction_of_peak"] = r / peak;
          if (library_ms > 0) row["speed_vs_library"] = library_ms / ms;  // > 1: faster than the library
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.3f", ms), ms_text = buf;
          std::snprintf(buf, sizeof buf, "%.0f %s", r, compute ? "GF/s" : "GB/s"), rate = buf;
          if (peak > 0) std::snprintf(buf, sizeof buf, "%.1f", 100 * r / peak), percent = buf;
          if (library_ms > 0) std::snprintf(buf, sizeof buf, "%.2f", library_ms / ms), ratio = buf;
        }
        std::printf("%-10s %-44s %-26s %-7s %10s %10s %8s %8s\n", f.op.c_str(), p.label.c_str(), v.name.c_str(),
                    check.ok ? "ok" : "FAIL", ms_text.c_str(), rate.c_str(), percent.c_str(), ratio.c_str());
        if (!check.ok)
          std::printf("           %lld of %lld elements outside the tolerance; first %s\n", (long long)check.bad,
                      (long long)check.checked, check.first_bad.c_str());
        rows.push_back(row);
      }
    }
  }
  report["rows"] = rows;
  std::filesystem::create_directories(std::filesystem::path(o.out).parent_path());
  std::ofstream(o.out) << report.dump(2) << "\n";
  std::printf("wrote %s\n", o.out.c_str());
  return all_ok ? 0 : 1;
}
