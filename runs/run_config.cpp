// run_config.cpp — see run_config.h.
#include "runs/run_config.h"

#include <filesystem>

#include "nn/models/resnet.h"
#include "runs/run_dir.h"
#include "tensor/error.h"

namespace cxr::runs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A path from config.json: relative ones are relative to the run directory.
std::string in_run_dir(const std::string& run_dir, const std::string& path) {
  return fs::path(path).is_absolute() ? path : (fs::path(run_dir) / path).string();
}

// Typed field access with errors naming the file and the field.
template <typename T>
T field(const json& j, const std::string& key, const std::string& file, const char* kind) {
  auto it = j.find(key);
  CXR_CHECK(it != j.end(), file, ": missing required field '", key, "'");
  try {
    // Integers through json_integer/json_unsigned: nlohmann's get<int64_t>() of a float past the
    // range is an undefined cast (the json_config fuzzer found 7.8e46 in num_outputs).
    if constexpr (std::is_same_v<T, uint64_t>)
      return json_unsigned(*it, file);
    else if constexpr (std::is_same_v<T, int64_t>)
      return json_integer(*it, file);
    else
      return it->get<T>();
  } catch (const json::exception&) {
  } catch (const Error&) {  // json_integer/json_unsigned: a float that is no integer, or out of range
  }
  fail(file, ": field '", key, "' must be ", kind, ", got ", it->dump());
}
template <typename T>
T optional_field(const json& j, const std::string& key, T fallback, const std::string& file, const char* kind) {
  return j.contains(key) && !j.at(key).is_null() ? field<T>(j, key, file, kind) : fallback;
}

TextModelConfig read_text_model(const json& t, const std::string& run_dir, const std::string& where) {
  CXR_CHECK(t.is_object(), where, ": expected an object");
  TextModelConfig c;
  c.bert_config = in_run_dir(run_dir, field<std::string>(t, "bert_config", where, "a string"));
  c.vocab = in_run_dir(run_dir, field<std::string>(t, "vocab", where, "a string"));
  c.max_seq_length = optional_field<int64_t>(t, "max_seq_length", c.max_seq_length, where, "an integer");
  c.lower_case = optional_field<bool>(t, "lower_case", c.lower_case, where, "true or false");
  CXR_CHECK(c.max_seq_length >= 2, where, ": max_seq_length must be at least 2, got ", c.max_seq_length);
  return c;
}

}  // namespace

RunConfig read_run_config(const std::string& run_dir) {
  const std::string file = RunPaths(run_dir).config();
  CXR_CHECK(fs::is_directory(run_dir), run_dir, ": not a run directory (no such directory)");
  const json j = read_json_file(file);
  CXR_CHECK(j.is_object(), file, ": expected a JSON object");
  RunConfig c;
  c.run_dir = run_dir;
  c.method = optional_field<std::string>(j, "method", c.method, file, "a string");
  c.arch = field<std::string>(j, "arch", file, "a string");
  c.task = optional_field<std::string>(j, "task", c.task, file, "a string");
  c.num_outputs = field<int64_t>(j, "num_outputs", file, "an integer");
  CXR_CHECK(c.num_outputs > 0, file, ": num_outputs must be positive, got ", c.num_outputs);
  nn::ResNetConfig arch;
  try {
    arch = nn::resnet_config(c.arch);
  } catch (const Error& e) {
    fail(file, ": ", e.what());
  }
  c.image_size = optional_field<int64_t>(j, "image_size", arch.input_size, file, "an integer");
  CXR_CHECK(c.image_size == arch.input_size, file, ": image_size ", c.image_size, " does not match ", c.arch,
            " (input ", arch.input_size, ")");
  c.resize = optional_field<int64_t>(j, "resize", c.resize, file, "an integer");
  if (j.contains("text_model") && !j.at("text_model").is_null()) {
    c.has_text_model = true;
    c.text_model = read_text_model(j.at("text_model"), run_dir, file + " text_model");
  }
  c.seed = optional_field<uint64_t>(j, "seed", c.seed, file, "a non-negative integer");
  c.manifest = optional_field<std::string>(j, "manifest", c.manifest, file, "a string");
  if (j.contains("options")) c.options = j.at("options");
  return c;
}

json run_config_json(const RunConfig& c) {
  json j = {{"method", c.method},      {"arch", c.arch},       {"image_size", c.image_size},
            {"resize", c.resize},      {"task", c.task},       {"num_outputs", c.num_outputs},
            {"seed", c.seed},          {"manifest", c.manifest}, {"options", c.options}};
  if (c.has_text_model)
    j["text_model"] = {{"bert_config", c.text_model.bert_config},
                       {"vocab", c.text_model.vocab},
                       {"max_seq_length", c.text_model.max_seq_length},
                       {"lower_case", c.text_model.lower_case}};
  return j;
}

}  // namespace cxr::runs
