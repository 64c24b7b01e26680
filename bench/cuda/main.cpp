// main.cpp — cxr-kernels, the kernel study's bench (harness.h; docs/KERNELS.md):
//   cxr-kernels [--op NAME]... [--version N]... [--quick] [--check-only] [--runs N] [--out FILE.json]
// For each registered family (op), each problem, each version of its ladder (--version N: only
// those; without it CXR_CUDA_VERSION_<OP>=n picks one, as for the backend), then the library:
// check against the CPU reference, then time (CUDA events, L2 flushed before each run, the median
// of --runs >= 20 runs). Prints one table row per (problem, version) and writes the JSON to --out
// (default bench/results/kernels-<UTC time>.json). --quick runs the small shapes and implies
// --check-only: what the CPU emulator can do in a test (make test-cuda-emulated).
// Columns: the median ms, GFLOP/s (or GB/s for memory-bound ops), the percent of the measured peak
// that applies (FP32, TF32, BF16 or DRAM), and "x lib" = the library's time / this version's time
// in the same precision (1.00: as fast as cuBLAS/cuDNN on that problem; SGEMM's TF32 and BF16
// versions against cuBLAS in TF32 and BF16; the docs' targets are stated in this ratio); for a
// family with no library, against its baseline version (attention: v1_unfused). A check
// that skipped non-finite reference values says how many. A family with Family::sum_group ends
// with one "sum:" row per group and version: the summed median times of the group's problems and
// the library's sum over that (conv2d: per pass, over every layer).
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

namespace {

using namespace cxr;
using namespace cxr::bench;
using nlohmann::json;

struct Options {
  std::set<std::string> ops;
  std::vector<int> versions;
  bool quick = false, check_only = false;
  int runs = 20;
  std::string out;
};

int usage() {
  std::fprintf(stderr,
               "usage: cxr-kernels [--op NAME]... [--version N]... [--quick] [--check-only] [--runs N>=20] "
               "[--out FILE.json]\nops:");
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
    else if (a == "--version") {
      const std::string n = value();
      char* end = nullptr;
      const long v = std::strtol(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || v < 1 || v > 1000) return usage();
      o.versions.push_back(int(v));
    }
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
  std::map<std::string, std::vector<int>> versions;  // per op: which of its ladder to run
  for (const Family& f : families()) {
    if (!o.ops.empty() && !o.ops.count(f.op)) continue;
    try {
      versions[f.op] = versions_to_run(*f.ladder, o.versions);
    } catch (const Error& e) {
      std::fprintf(stderr, "cxr-kernels: %s\n", e.what());
      return 2;
    }
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
    // The library rows this run compares with: the slot of each version that runs.
    auto library_slot = [&](const cuda::KernelVersion& v) { return f.library_for ? f.library_for(v) : kLibrary; };
    std::vector<cuda::KernelVersion> libraries;  // as versions: number = slot
    if (!f.library.empty() && !cuda::emulated()) {
      std::set<int> used;
      for (int n : versions[f.op]) used.insert(library_slot(f.ladder->version(n)));
      if (used.count(kLibrary)) libraries.push_back({kLibrary, f.library, "the library", true, false});
      for (const Family::Library& l : f.more_libraries)
        if (used.count(l.slot)) libraries.push_back({l.slot, l.name, "the library", l.exact_fp32, false});
    }
    if (f.library.empty() && f.baseline_version > 0)
      std::printf("%-10s no library yardstick: x lib is the speed against %s\n", f.op.c_str(),
                  f.ladder->version(f.baseline_version).name.c_str());
    // Family::sum_group: per group and version (or library slot), the summed median ms and the
    // number of problems timed; a sum is printed only when every problem of its group was timed.
    std::vector<std::string> groups;
    std::map<std::string, int> group_size;
    std::map<std::string, std::map<int, std::pair<double, int>>> sums;
    for (const Problem& p : f.problems(o.quick)) {
      const std::string group = f.sum_group ? f.sum_group(p) : "";
      if (!group.empty() && group_size[group]++ == 0) groups.push_back(group);
      std::unique_ptr<Case> c = f.make(p);
      std::map<int, double> library_ms;  // per slot
      if (!o.check_only)
        for (const cuda::KernelVersion& l : libraries) library_ms[l.number] = time_version(*c, l.number, o.runs);
      // No library: "x lib" against the family's baseline version, in kLibrary's slot.
      if (!o.check_only && f.library.empty() && f.baseline_version > 0)
        library_ms[kLibrary] = time_version(*c, f.baseline_version, o.runs);
      std::vector<const cuda::KernelVersion*> rows_to_run;
      for (int n : versions[f.op]) rows_to_run.push_back(&f.ladder->version(n));
      for (const cuda::KernelVersion& l : libraries) rows_to_run.push_back(&l);
      for (const cuda::KernelVersion* version : rows_to_run) {
        const cuda::KernelVersion& v = *version;
        const int number = v.number;
        const bool library = number <= kLibrary;
        const int slot = library ? number : library_slot(v);
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
          const double ms = library ? library_ms[number] : time_version(*c, number, o.runs);
          const double lib_ms = library_ms.count(slot) ? library_ms[slot] : 0;
          const bool compute = p.flops > 0;
          const double r = compute ? p.flops / (ms * 1e6) : p.bytes / (ms * 1e6);  // GFLOP/s or GB/s
          const double peak = !compute ? peaks.dram_gbps
                              : v.exact_fp32 ? peaks.fp32_gflops
                              : v.name.find("bf16") != std::string::npos ? peaks.bf16_gflops
                                                                         : peaks.tf32_gflops;
          if (!group.empty()) sums[group][number].first += ms, sums[group][number].second += 1;
          row["ms"] = ms;
          row[compute ? "gflops" : "gbps"] = r;
          if (peak > 0) row["fraction_of_peak"] = r / peak;
          if (lib_ms > 0) row["speed_vs_library"] = lib_ms / ms;  // > 1: faster than the library
          if (lib_ms > 0 && f.library.empty()) row["library_is"] = f.ladder->version(f.baseline_version).name;
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.3f", ms), ms_text = buf;
          std::snprintf(buf, sizeof buf, "%.0f %s", r, compute ? "GF/s" : "GB/s"), rate = buf;
          if (peak > 0) std::snprintf(buf, sizeof buf, "%.1f", 100 * r / peak), percent = buf;
          if (lib_ms > 0) std::snprintf(buf, sizeof buf, "%.2f", lib_ms / ms), ratio = buf;
        }
        std::printf("%-10s %-44s %-26s %-7s %10s %10s %8s %8s\n", f.op.c_str(), p.label.c_str(), v.name.c_str(),
                    check.ok ? "ok" : "FAIL", ms_text.c_str(), rate.c_str(), percent.c_str(), ratio.c_str());
        if (!check.ok)
          std::printf("           %lld of %lld elements outside the tolerance; first %s\n", (long long)check.bad,
                      (long long)check.checked, check.first_bad.c_str());
        if (check.non_finite_reference > 0)
          std::printf("           %lld non-finite reference values skipped\n", (long long)check.non_finite_reference);
        rows.push_back(row);
      }
    }
    for (const std::string& g : groups) {
      std::vector<const cuda::KernelVersion*> slots;
      for (int n : versions[f.op]) slots.push_back(&f.ladder->version(n));
      for (const cuda::KernelVersion& l : libraries) slots.push_back(&l);
      for (const cuda::KernelVersion* v : slots) {
        const auto total = sums[g].find(v->number);
        if (total == sums[g].end() || total->second.second != group_size[g]) continue;
        const int slot = v->number <= kLibrary ? v->number : library_slot(*v);
        const auto lib = sums[g].find(slot);
        const bool lib_ok = lib != sums[g].end() && lib->second.second == group_size[g];
        json row = {{"op", f.op}, {"summary", g}, {"problems", group_size[g]}, {"version", v->number},
                    {"name", v->name}, {"ms", total->second.first}};
        char ms_text[32], ratio[32] = "";
        std::snprintf(ms_text, sizeof ms_text, "%.3f", total->second.first);
        if (lib_ok) {
          row["speed_vs_library"] = lib->second.first / total->second.first;
          std::snprintf(ratio, sizeof ratio, "%.2f", lib->second.first / total->second.first);
        }
        const std::string label = "sum: " + g + " (" + std::to_string(group_size[g]) + " problems)";
        std::printf("%-10s %-44s %-26s %-7s %10s %10s %8s %8s\n", f.op.c_str(), label.c_str(), v->name.c_str(), "",
                    ms_text, "", "", ratio);
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
