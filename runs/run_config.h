// run_config.h — config.json of a training run (docs/RUNS.md), typed, with the defaults a reader
// applies when a field is absent: which method and task, the image encoder (arch, num_outputs,
// image_size, resize), the text encoder (text_model.{bert_config, vocab, max_seq_length,
// lower_case}, paths relative to the run directory), the seed, the manifest and every option of
// `cxr train` ("options", as train/options.h writes them). Readers get a cxr::Error naming the
// file and the field for a missing, mistyped or inconsistent value.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace cxr::runs {

// Tokens per text, [CLS] and [SEP] included: the reference's max_seq_length (METHODS.md §4).
inline constexpr int64_t kDefaultMaxSeqLength = 320;

struct TextModelConfig {
  // Written relative to the run directory (RunPaths::kTextBertConfig, kTextVocab); read_run_config
  // returns them resolved against it.
  std::string bert_config;
  std::string vocab;
  int64_t max_seq_length = kDefaultMaxSeqLength;
  bool lower_case = true;
};

struct RunConfig {
  std::string run_dir;      // where it was read from ("" for a config being written)
  std::string method;       // "" when absent
  std::string arch;         // required
  int64_t image_size = 0;   // the architecture's input size when absent
  int64_t resize = 0;       // > 0: the shorter edge is resized to this before the crop (train --resize)
  std::string task;         // "" when absent
  int64_t num_outputs = 0;  // required, > 0
  bool has_text_model = false;
  TextModelConfig text_model;
  uint64_t seed = 0;
  std::string manifest;     // absolute path of the training manifest; "" when absent
  nlohmann::json options;   // the resolved options of `cxr train`; null when absent
};

// Reads and checks RUN/config.json.
RunConfig read_run_config(const std::string& run_dir);

// The JSON of config.json (the trainer writes it through RunDirectory::write_config).
nlohmann::json run_config_json(const RunConfig& config);

}  // namespace cxr::runs
