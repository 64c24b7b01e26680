// test_train.cpp — the training loop and its operations (train/trainer.h): learning on phantoms,
// bit-exact resume after SIGKILL, the non-finite-loss stop, frozen fine-tuning, report-derived
// labels and the labelled fraction, and `cxr eval` agreeing with the run's own evaluation.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "data/transforms.h"
#include "nn/checkpoint.h"
#include "runs/run_dir.h"
#include "tensor/safetensors.h"
#include "train/trainer.h"
#include "train_testing.h"

using namespace cxr;
using namespace cxr::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;


namespace {

// The step and epoch events of a metrics log, without the wall-clock fields.
std::vector<json> loss_events(const std::string& path) {
  std::vector<json> out;
  for (json e : read_jsonl(path)) {
    e.erase("elapsed_s");
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("train image: a ResNet learns edema severity on phantoms (held-out AUCs far above chance)") {
  if (skip_learning_test("image-only learning")) return;
  const std::string data = phantom_dataset(400, 7);
  train::TrainOptions o = phantom_run("image", data, fresh_temp_dir("train_image"));
  o.max_steps = 200;
  json test = train::run_training(o);
  MESSAGE("image-only test AUCs: 0v123 ", metric_value(test, "auc_0v123"), ", 01v23 ", metric_value(test, "auc_01v23"),
          ", 012v3 ", metric_value(test, "auc_012v3"));
  // Chance is 0.5. Vascular congestion (1) is the subtlest sign, so 0 vs 1,2,3 is the hardest cut.
  CHECK(metric_value(test, "auc_0v123") > 0.65);
  CHECK(metric_value(test, "auc_01v23") > 0.8);
  CHECK(metric_value(test, "auc_012v3") > 0.85);
  // The run directory holds what docs/RUNS.md promises.
  for (auto f : {"config.json", "model.safetensors", "metrics.jsonl", "eval-test.json", "predictions-test.csv",
                 "state/trainer.json"})
    CHECK_MESSAGE(fs::exists(o.out + "/" + f), f);
  std::vector<json> log = read_jsonl(o.out + "/metrics.jsonl");
  REQUIRE(log.size() > 10);
  CHECK(log.front()["event"] == "step");
  // `cxr eval` on the same split with the same bootstrap seed reproduces the run's evaluation.
  CliRun r = run_cxr({"eval", "--checkpoint", o.out, "--manifest", o.manifest, "--out", o.out + "/again.json",
                      "--bootstrap", "100"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  json again = runs::read_json_file(o.out + "/again.json");
  CHECK(again["metrics"] == test["metrics"]);
  fs::remove_all(o.out);
}

TEST_CASE("train --resume after SIGKILL continues bit-exactly") {
  // Two CLI training runs: 7 s with the fast kernels, over 2 minutes with the reference ones (the
  // child processes inherit CXR_KERNELS).
  if (skip_under_reference_kernels("resume")) return;
  const std::string data = phantom_dataset(60, 5);
  const std::string base = fresh_temp_dir("train_resume");
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{CXR_CLI_PATH, "train", "--method", "image", "--manifest", data + "/manifest.csv",
                                    "--out", out, "--arch", "resnet128_6_2_1", "--batch-size", "8", "--epochs", "5",
                                    "--log-every", "1", "--bootstrap", "10", "--progress", "0", "--seed", "3"};
  };
  // The uninterrupted run.
  std::vector<std::string> a = args(base + "/whole");
  std::vector<std::string> quoted(a.begin() + 1, a.end());
  CliRun whole = run_cxr(quoted);
  REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);

  // The same run, killed with SIGKILL once its first epoch is checkpointed, then resumed.
  const std::string out = base + "/killed";
  const std::vector<std::string> k = args(out);
  const pid_t pid = spawn_cxr(std::vector<std::string>(k.begin() + 1, k.end()));  // k[0] is the program
  REQUIRE(pid > 0);
  bool killed = false;
  for (int i = 0; i < 60000 && !killed; ++i) {
    std::error_code ec;
    if (fs::exists(out + "/state/trainer.json", ec)) {
      json s = json::parse(read_text(out + "/state/trainer.json"), nullptr, false);
      if (!s.is_discarded() && s.value("epoch", 0) >= 1) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
    }
    int status = 0;
    if (!killed && ::waitpid(pid, &status, WNOHANG) == pid) FAIL("the run ended before it could be killed");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(killed);
  REQUIRE_MESSAGE(WIFSIGNALED(status), "the run finished before SIGKILL reached it");
  const int epoch_at_kill = json::parse(read_text(out + "/state/trainer.json"))["epoch"].get<int>();
  CHECK(epoch_at_kill < 5);

  std::vector<std::string> resume(k.begin() + 1, k.end());
  resume.push_back("--resume");
  CliRun resumed = run_cxr(resume);
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.err);
  // Same losses at every step, same evaluation, same final weights (byte for byte).
  CHECK(loss_events(out + "/metrics.jsonl") == loss_events(base + "/whole/metrics.jsonl"));
  CHECK(read_text(out + "/eval-test.json") == read_text(base + "/whole/eval-test.json"));
  CHECK(read_text(out + "/model.safetensors") == read_text(base + "/whole/model.safetensors"));
  // Only the last epoch's resume state is kept.
  int state_models = 0;
  for (auto& e : fs::directory_iterator(out + "/state")) state_models += e.path().filename().string().starts_with("model-epoch");
  CHECK(state_models == 1);
  // A resume with different options is refused.
  std::vector<std::string> changed = resume;
  changed.push_back("--lr");
  changed.push_back("0.1");
  CliRun refused = run_cxr(changed);
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("cannot resume with a different --lr") != std::string::npos);
  fs::remove_all(base);
}

TEST_CASE("train: a non-finite loss stops the run, naming the step and the tensor") {
  if (skip_under_reference_kernels("non-finite stop")) return;
  const std::string data = phantom_dataset(60, 5);
  const std::string out = fresh_temp_dir("train_nan");
  CliRun r = run_cxr({"train", "--method", "image", "--manifest", data + "/manifest.csv", "--out", out, "--arch",
                      "resnet128_6_2_1", "--batch-size", "8", "--epochs", "3", "--lr", "1e38", "--progress", "0"});
  CHECK(r.exit_code == 2);
  CHECK_MESSAGE(r.err.find("non-finite loss") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("at step ") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("tensor: ") != std::string::npos, r.err);
  std::vector<json> log = read_jsonl(out + "/metrics.jsonl");
  REQUIRE(!log.empty());
  CHECK(log.back()["event"] == "stop");
  fs::remove_all(out);
}

TEST_CASE("train finetune --encoder frozen: only layer6 and fc1 change, tuned changes the rest") {
  if (skip_under_reference_kernels("freezing")) return;
  const std::string data = phantom_dataset(60, 5);
  const std::string base = fresh_temp_dir("train_finetune");
  train::TrainOptions init = phantom_run("image", data, base + "/init");
  init.max_steps = 1, init.epochs = 1, init.batch_size = 8;
  train::run_training(init);
  const auto init_weights = read_safetensors(base + "/init/model.safetensors").tensors;
  for (std::string policy : {"frozen", "tuned"}) {
    train::TrainOptions ft = phantom_run("finetune", data, base + "/" + policy);
    ft.init = base + "/init", ft.encoder = policy, ft.max_steps = 2, ft.epochs = 1, ft.batch_size = 8;
    ft.task = "Cardiomegaly";
    train::run_training(ft);
    const auto tuned = read_safetensors(ft.out + "/model.safetensors").tensors;
    int changed_frozen_part = 0, changed_layer6 = 0, compared = 0;
    for (auto& [name, t] : tuned) {
      if (name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos) continue;
      if (name.starts_with("image_model.fc1.")) {
        CHECK(t.size(0) == 1);  // the new head: one finding
        continue;
      }
      ++compared;
      const bool same = t.to_vector() == init_weights.at(name).to_vector();
      if (name.starts_with("image_model.layer6.")) changed_layer6 += !same;
      else changed_frozen_part += !same;
    }
    CHECK(compared > 50);
    CHECK(changed_layer6 > 0);
    if (policy == "frozen") CHECK(changed_frozen_part == 0);
    else CHECK(changed_frozen_part > 0);
  }
  fs::remove_all(base);
}

TEST_CASE("train: report-derived labels replace the training labels, and the labelled fraction goes by patient") {
  const std::string data = phantom_dataset(60, 5);
  const std::string dir = fresh_temp_dir("train_labels");
  data::Manifest m = data::read_manifest(data + "/manifest.csv");
  // A labeler CSV for every other training report, all saying severity 3.
  std::string csv = "report,label\n";
  std::set<std::string> labelled_studies;
  int i = 0;
  for (auto& row : m.rows)
    if (row.split == "train" && i++ % 2 == 0) {
      csv += row.report + ",3\n";
      labelled_studies.insert(row.study_id);
    }
  std::ofstream(dir + "/labels.csv") << csv;
  train::TrainOptions o;
  o.manifest = data + "/manifest.csv";
  o.edema_labels = dir + "/labels.csv";
  data::Manifest p = train::prepare_manifest(o);
  REQUIRE(p.rows.size() == m.rows.size());
  for (size_t r = 0; r < p.rows.size(); ++r) {
    if (p.rows[r].split == "train")
      CHECK(p.rows[r].edema == (labelled_studies.count(p.rows[r].study_id) ? 3 : -1));
    else
      CHECK(p.rows[r].edema == m.rows[r].edema);  // held-out splits keep their ground truth
  }
  // Half the training patients keep their labels; a patient's images agree.
  o.edema_labels.clear();
  o.labeled_fraction = 0.5;
  p = train::prepare_manifest(o);
  std::map<std::string, std::set<bool>> kept;
  int train_patients_kept = 0;
  for (size_t r = 0; r < p.rows.size(); ++r)
    if (p.rows[r].split == "train") kept[p.rows[r].patient_id].insert(p.rows[r].edema >= 0 || m.rows[r].edema < 0);
  for (auto& [patient, k] : kept) {
    CHECK(k.size() == 1);
    train_patients_kept += *k.begin();
  }
  CHECK(train_patients_kept > 0);
  CHECK(train_patients_kept < int(kept.size()));
  // A CSV that matches no report is an error naming the file.
  std::ofstream(dir + "/none.csv") << "report,label\nnothing.txt,1\n";
  o.labeled_fraction = 1;
  o.edema_labels = dir + "/none.csv";
  CHECK_THROWS_WITH_AS(train::prepare_manifest(o), doctest::Contains("none.csv"), Error);
  fs::remove_all(dir);
}

TEST_CASE("train: bad options and inputs give clear errors") {
  const std::string data = phantom_dataset(60, 5);
  train::TrainOptions o = phantom_run("image", data, fresh_temp_dir("train_errors"));
  o.task = "Cardiomegally";
  CHECK_THROWS_WITH_AS(train::run_training(o), doctest::Contains("unknown task 'Cardiomegally'"), Error);
  o.task = "edema";
  o.train_splits = {"nosuchsplit"};
  CHECK_THROWS_WITH_AS(train::run_training(o), doctest::Contains("no rows to train on"), Error);
  o.train_splits = {"train"};
  o.method = "finetune";
  CHECK_THROWS_WITH_AS(train::run_training(o), doctest::Contains("--init"), Error);
  o.method = "image";
  o.resume = true;
  o.out = fresh_temp_dir("train_errors_resume");
  CHECK_THROWS_WITH_AS(train::run_training(o), doctest::Contains("nothing to resume"), Error);
}

TEST_CASE("train --resize: the shorter edge is resized before the crop, in training and evaluation alike") {
  Generator gen(0);
  Tensor image = rand({256, 300}, {}, &gen) * 255.0;
  Tensor expected = data::eval_transform(128)(data::resize_shorter_edge(image, 128), gen);
  Tensor got = data::resized(128, data::eval_transform(128))(image, gen);
  REQUIRE(got.shape() == Shape{128, 128});
  CHECK(got.to_vector() == expected.to_vector());
  // 0 leaves the transform alone: the reference's crop only.
  CHECK(data::resized(0, data::eval_transform(128))(image, gen).to_vector() == data::eval_transform(128)(image, gen).to_vector());
}
