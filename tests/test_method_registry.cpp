// test_method_registry.cpp — the method registry of `cxr train` (train/method_registry.h): exactly
// the five methods of METHODS.md in their order, each with the reference schedule the defaults come
// from, its own option checks and a factory; the CLI's --help and --method check read the same
// registry. A method file whose registration the linker dropped fails here.
#include <string>
#include <vector>

#include "train/method_registry.h"
#include "train/options.h"
#include "train_testing.h"

using namespace cxr;
using namespace cxr::testing;

TEST_CASE("method registry: image, vae, joint, mi and finetune, with their reference schedules") {
  CHECK(train::method_names() == std::vector<std::string>{"image", "vae", "joint", "mi", "finetune"});
  // METHODS.md §5, §7, §8: epochs and batch sizes of the reference code.
  const std::vector<std::pair<int64_t, int64_t>> schedules = {{300, 64}, {100, 64}, {300, 4}, {100, 8}, {300, 64}};
  REQUIRE(train::registered_methods().size() == schedules.size());
  for (size_t i = 0; i < schedules.size(); ++i) {
    const train::MethodSpec& m = train::registered_methods()[i];
    INFO(m.name);
    CHECK(m.default_epochs == schedules[i].first);
    CHECK(m.default_batch_size == schedules[i].second);
    CHECK_FALSE(m.summary.empty());
    CHECK(m.check_options);
    CHECK(m.make);
    CHECK(train::find_method(m.name) == &m);
    // resolve_defaults takes the registered schedule, and keeps what was set.
    train::TrainOptions o;
    o.method = m.name;
    o.resolve_defaults();
    CHECK(o.epochs == m.default_epochs);
    CHECK(o.batch_size == m.default_batch_size);
    o.epochs = 7;
    o.resolve_defaults();
    CHECK(o.epochs == 7);
  }
  CHECK(train::find_method("nope") == nullptr);
  CHECK(error_of([] { train::method_spec("nope"); }) == "unknown method 'nope' (expected image, vae, joint, mi or finetune)");
}

TEST_CASE("method registry: each method checks the options it needs") {
  train::TrainOptions o;
  o.manifest = "m.csv", o.out = "run";
  auto validate = [&](const std::string& method) {
    o.method = method;
    train::TrainOptions resolved = o;
    resolved.resolve_defaults();
    return error_of([&] { resolved.validate(); });
  };
  CHECK(contains(validate("nope"), "--method 'nope': expected one of image, vae, joint, mi, finetune"));
  CHECK(contains(validate("finetune"), "train --method finetune: --init RUN_DIR"));
  CHECK(contains(validate("mi"), "train --method mi: give --text-init DIR"));
  CHECK(contains(validate("joint"), "train --method joint: give --text-init DIR"));
  o.joint_mode = "semisupervised_phase2";
  CHECK(contains(validate("joint"), "--joint-mode semisupervised_phase2: --init RUN_DIR"));
  o.task = "findings";
  CHECK(contains(validate("vae"), "train --method vae: only --task edema"));
  // With what they need, they pass.
  o.task = "edema", o.joint_mode = "supervised", o.init = "runs/mi", o.text_init = "bert";
  for (const std::string& method : train::method_names()) {
    o.method = method;
    train::TrainOptions resolved = o;
    resolved.resolve_defaults();
    CHECK_NOTHROW(resolved.validate());
  }
}

TEST_CASE("method registry: make_method builds the registered method's models") {
  // The methods without a text encoder build from the options alone (no files needed).
  for (const char* method : {"image", "vae", "finetune"}) {
    INFO(method);
    train::TrainOptions o;
    o.method = method, o.arch = "resnet128_6_2_1";
    std::unique_ptr<train::Method> m = train::make_method(o, /*for_training=*/false);
    REQUIRE(m);
    CHECK(m->predicts());
    CHECK(m->models->num_parameters() > 0);
    CHECK(m->models->named_children().size() == 1);
  }
  train::TrainOptions o;
  o.method = "nope";
  CHECK(contains(error_of([&] { train::make_method(o); }), "unknown method 'nope'"));
}

TEST_CASE("method registry: cxr train --help lists the registered methods") {
  CliRun r = run_cxr({"train", "--help"});
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "image | vae | joint | mi | finetune"));
  for (const auto& m : train::registered_methods()) CHECK_MESSAGE(contains(r.out, m.summary), m.name);
  CliRun top = run_cxr({"--help"});
  CHECK(contains(top.out, "train a model: image | vae | joint | mi | finetune"));
  CliRun bad = run_cxr({"train", "--method", "nope", "--manifest", CXR_CLI_PATH, "--out", fresh_temp_dir("registry_bad")});
  CHECK(bad.exit_code != 0);
  CHECK(contains(bad.err, "--method"));
}
