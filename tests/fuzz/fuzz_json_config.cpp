// fuzz_json_config.cpp — fuzz harness for the JSON configuration files. The first byte picks the
// reader, the rest is the file:
//   0  nn::BertConfig::from_json (text/bert_config.json)
//   1  runs::read_run_config (a run's config.json), then its "options" as train::TrainOptions
//      (converted as train::load_trained_method does) and validated
//   2  runs::RunDirectory::read_state (state/trainer.json, what --resume trusts)
#include "fuzz_common.h"
#include "nn/models/bert.h"
#include "runs/run_config.h"
#include "runs/run_dir.h"
#include "train/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  static const std::string run_dir = fuzz::scratch_dir() + "/run";
  static runs::RunDirectory run(run_dir);
  switch (data[0] % 3) {
    case 0:
      fuzz::expect_errors([&] {
        const nn::BertConfig c = nn::BertConfig::from_json(text);
        c.validate();
        const nn::BertConfig again = nn::BertConfig::from_json(c.to_json());
        fuzz::require(again.to_json() == c.to_json(), "BertConfig: to_json round trip");
      });
      break;
    case 1:
      fuzz::scratch_file("run/config.json", text);
      fuzz::expect_errors([&] {
        const runs::RunConfig c = runs::read_run_config(run_dir);
        fuzz::require(c.num_outputs > 0 && !c.arch.empty(), "read_run_config: required fields");
        train::TrainOptions o;
        try {
          o = c.options.get<train::TrainOptions>();
        } catch (const nlohmann::json::exception& e) {
          fail(run.config(), ": malformed options: ", e.what());
        }
        o.validate();
      });
      break;
    default:
      fuzz::scratch_file("run/state/trainer.json", text);
      fuzz::expect_errors([&] {
        const runs::TrainerState s = run.read_state();
        fuzz::require(s.epoch >= 0 && s.step >= 0 && s.metrics_bytes >= 0, "read_state: counters");
      });
  }
  return 0;
}
