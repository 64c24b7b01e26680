// convert_dicom.cpp — `cxr convert-dicom`: DICOM chest radiographs -> 16-bit PNGs as the reference
// preprocessing made them (data/dicom.h, METHODS.md §1): stored values, shorter edge to --size
// (PIL bilinear on int32), 65535 * img / max, uint16.
//   cxr convert-dicom [--size 256] --out-dir DIR [--mimic-names] [--invert-monochrome1] [--threads T] INPUT...
// INPUT: .dcm files or directories (searched recursively for *.dcm). Output names: the file's stem,
// or with --mimic-names p{subject}_s{study}_{dicom}.png from a MIMIC-CXR path .../p{subject}/s{study}/{dicom}.dcm.
// Exit code 0; 1 if some files failed (each named on stderr, the others converted); 2 bad arguments.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "apps/command.h"
#include "data/dicom.h"
#include "data/importers.h"

namespace cxr::apps {
namespace {

namespace fs = std::filesystem;

struct ConvertOptions {
  std::vector<std::string> inputs;
  std::string out_dir;
  int64_t size = 256;
  bool mimic_names = false;
  bool invert_monochrome1 = false;
  int64_t threads = 0;
};

int run_convert(const ConvertOptions& o) {
  std::vector<fs::path> files;
  for (const auto& in : o.inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      for (auto it = fs::recursive_directory_iterator(in, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        std::string ext = it->path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        if (it->is_regular_file(ec) && ext == ".dcm") files.push_back(it->path());
      }
    } else {
      files.push_back(in);  // a missing file is reported by the conversion
    }
  }
  std::sort(files.begin(), files.end());
  fs::create_directories(o.out_dir);
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0}, done{0};
  std::mutex io;
  data::DicomReadOptions ro;
  ro.invert_monochrome1 = o.invert_monochrome1;
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      const fs::path& f = files[i];
      try {
        std::string name = f.stem().string();
        if (o.mimic_names) {
          std::string subject, study, dicom;
          if (!data::parse_mimic_path(f.string(), subject, study, dicom))
            throw Error(f.string() + ": --mimic-names: the path is not .../p{subject}/s{study}/{dicom}.dcm");
          name = "p" + subject + "_s" + study + "_" + dicom;
        }
        data::convert_dicom(f.string(), (fs::path(o.out_dir) / (name + ".png")).string(), o.size, ro);
        done++;
      } catch (const std::exception& e) {
        failures++;
        std::lock_guard<std::mutex> lock(io);
        std::fprintf(stderr, "cxr convert-dicom: %s\n", e.what());
      }
    }
  };
  int64_t threads = o.threads > 0 ? o.threads : int64_t(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max<int64_t>(1, std::min<int64_t>(threads, int64_t(files.size())));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  std::printf("cxr convert-dicom: %d of %zu files converted to %s (%d failed)\n", done.load(), files.size(), o.out_dir.c_str(),
              failures.load());
  return failures ? kExitSomeInputsFailed : kExitOk;
}

CommandRegistration registration("convert-dicom", "DICOM chest radiographs to 16-bit PNG as the reference preprocessing",
                                 [](CLI::App& sub) {
                                   auto o = std::make_shared<ConvertOptions>();
                                   sub.add_option("inputs", o->inputs, ".dcm files or directories")->required();
                                   sub.add_option("--out-dir", o->out_dir, "output directory")->required();
                                   sub.add_option("--size", o->size, "shorter edge of the output (the reference: 256, 512 ...)")
                                       ->check(CLI::Range(1, 16384));
                                   sub.add_flag("--mimic-names", o->mimic_names, "name outputs p{subject}_s{study}_{dicom}.png");
                                   sub.add_flag("--invert-monochrome1", o->invert_monochrome1,
                                                "invert MONOCHROME1 images (the reference did not)");
                                   sub.add_option("--threads", o->threads, "worker threads (default: all cores)");
                                   return [o] { return run_convert(*o); };
                                 });

}  // namespace
}  // namespace cxr::apps
