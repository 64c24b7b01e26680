// run_dir.cpp — see run_dir.h.
#include "runs/run_dir.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "runs/run_config.h"
#include "tensor/error.h"
#include "tensor/file_io.h"

namespace cxr::runs {

template <typename Json>
Json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
}
template nlohmann::json read_json_file<nlohmann::json>(const std::string&);
template nlohmann::ordered_json read_json_file<nlohmann::ordered_json>(const std::string&);

void write_json_file(const std::string& path, const nlohmann::json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

std::string RunPaths::file(const std::string& name) const { return (std::filesystem::path(dir_) / name).string(); }
std::string ExperimentPaths::file(const std::string& name) const { return RunPaths(dir_).file(name); }

std::string RunPaths::state_model(int64_t epoch) const {
  return file("state/model-epoch" + std::to_string(epoch) + ".safetensors");
}

std::string RunPaths::state_optimizer(const std::string& name, int64_t epoch) const {
  return file("state/optimizer-" + name + "-epoch" + std::to_string(epoch) + ".safetensors");
}

RunDirectory::RunDirectory(std::string path, bool writer) : RunPaths(std::move(path)), writer_(writer) {
  if (!writer_) return;
  std::error_code ec;
  std::filesystem::create_directories(state_dir(), ec);
  CXR_CHECK(!ec, dir(), ": cannot create the run directory: ", ec.message());
}

RunDirectory::~RunDirectory() {
  if (metrics_) std::fclose(metrics_);
}

nlohmann::json RunDirectory::read_options() const {
  nlohmann::json j = read_json_file(config());
  CXR_CHECK(j.is_object() && j.contains("options"), config(), ": no \"options\" object");
  return j.at("options");
}

void RunDirectory::write_config(const RunConfig& c) const {
  CXR_CHECK(writer_, config(), ": this process only reads the run directory");
  write_json_file(config(), run_config_json(c));
}

bool RunDirectory::has_state() const { return std::filesystem::exists(trainer_state()); }

TrainerState RunDirectory::read_state() const {
  const std::string where = trainer_state();
  nlohmann::json j = read_json_file(where);
  TrainerState s;
  try {
    s.epoch = json_integer(j.at("epoch"), where + ": epoch");
    s.step = json_integer(j.at("step"), where + ": step");
    s.metrics_bytes = json_integer(j.at("metrics_bytes"), where + ": metrics_bytes");
    s.elapsed_s = j.value("elapsed_s", 0.0);
    s.best_score = j.value("best_score", -1e300);
    s.best_epoch = j.contains("best_epoch") ? json_integer(j["best_epoch"], where + ": best_epoch") : 0;
    for (auto& [name, g] : j.at("generators").items()) {
      const std::string generator = where + ": generator '" + name + "'";
      s.generators[name] = {json_unsigned(g.at(0), generator), json_unsigned(g.at(1), generator)};
    }
  } catch (const nlohmann::json::exception& e) {
    fail(where, ": malformed trainer state: ", e.what());
  }
  CXR_CHECK(s.epoch >= 0 && s.step >= 0 && s.metrics_bytes >= 0, where, ": negative counters");
  return s;
}

void RunDirectory::write_state(const TrainerState& s) const {
  CXR_CHECK(writer_, trainer_state(), ": this process only reads the run directory");
  nlohmann::json j = {{"epoch", s.epoch},         {"step", s.step},           {"metrics_bytes", s.metrics_bytes},
                      {"elapsed_s", s.elapsed_s}, {"best_score", s.best_score}, {"best_epoch", s.best_epoch}};
  j["generators"] = nlohmann::json::object();
  for (auto& [name, g] : s.generators) j["generators"][name] = {g.first, g.second};
  write_json_file(trainer_state(), j);
}

void RunDirectory::open_metrics(int64_t bytes) {
  if (!writer_) {
    metrics_bytes_ = bytes;
    return;
  }
  const std::string where = metrics();
  if (metrics_) std::fclose(metrics_), metrics_ = nullptr;
  if (bytes == 0) {
    metrics_ = std::fopen(where.c_str(), "w");
  } else {
    std::error_code ec;
    const auto size = std::filesystem::file_size(where, ec);
    CXR_CHECK(!ec && int64_t(size) >= bytes, where, ": shorter than the checkpoint says (", bytes,
              " bytes); the log does not belong to this checkpoint");
    std::filesystem::resize_file(where, uintmax_t(bytes), ec);
    CXR_CHECK(!ec, where, ": cannot truncate: ", ec.message());
    metrics_ = std::fopen(where.c_str(), "a");
  }
  CXR_CHECK(metrics_ != nullptr, where, ": cannot open for writing: ", std::strerror(errno));
  metrics_bytes_ = bytes;
}

void RunDirectory::log(const nlohmann::json& event) {
  if (!writer_) return;
  CXR_CHECK(metrics_ != nullptr, metrics(), ": not open");
  const std::string line = event.dump() + "\n";
  CXR_CHECK(std::fwrite(line.data(), 1, line.size(), metrics_) == line.size() && std::fflush(metrics_) == 0,
            metrics(), ": write failed: ", std::strerror(errno));
  metrics_bytes_ += int64_t(line.size());
}

}  // namespace cxr::runs
