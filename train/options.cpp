// options.cpp — see options.h.
#include "train/options.h"

#include <algorithm>

#include "tensor/error.h"
#include "train/method_registry.h"

namespace cxr::train {

namespace detail {
// Missing fields take the defaults, so a config.json from an older version still reads.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    TrainOptions, method, manifest, out, task, arch, epochs, batch_size, max_steps, lr, text_lr, text_weight_decay,
    warmup, text_bias_correction, train_splits, val_split, test_split, labeled_fraction, edema_labels,
    findings_labels, augment, resize, workers, text_init, bert_config, vocab, max_seq_length, cased, joint_mode, similarity,
    bound, mi_level, local_select, init, encoder, latent_dim, vae_head, likelihood, beta, seed, threads, log_every,
    bootstrap, resume, progress, explain, device, distributed, sync_bn, bucket_mb, dist_timeout, world_size)
}  // namespace detail

void to_json(nlohmann::json& j, const TrainOptions& o) { detail::to_json(j, o); }
void from_json(const nlohmann::json& j, TrainOptions& o) {
  // nlohmann casts a JSON float into an integer field unchecked, undefined behaviour past the type's
  // range (the json_config fuzzer found 2e86 in a config.json): integer fields take JSON integers only.
  if (j.is_object()) {
    const nlohmann::json defaults = TrainOptions{};
    for (auto& [key, v] : j.items())
      if (defaults.contains(key) && defaults[key].is_number_integer()) {
        CXR_CHECK(v.is_number_integer(), "options: '", key, "' must be an integer, got ", v.dump());
        CXR_CHECK(!defaults[key].is_number_unsigned() || v.is_number_unsigned(), "options: '", key,
                  "' must be a non-negative integer, got ", v.dump());
      }
  }
  detail::from_json(j, o);
}

static void check_one_of(const std::string& flag, const std::string& value, std::vector<std::string> allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail("--", flag, " '", value, "': expected one of ", list);
}

void TrainOptions::resolve_defaults() {
  const MethodSpec* spec = find_method(method);
  if (!spec) return;  // validate() names the registered methods
  if (epochs < 0) epochs = spec->default_epochs;
  if (batch_size < 0) batch_size = spec->default_batch_size;
}

void TrainOptions::validate() const {
  check_one_of("method", method, method_names());
  CXR_CHECK(!manifest.empty(), "train: --manifest is required");
  CXR_CHECK(!out.empty(), "train: --out is required");
  CXR_CHECK(epochs > 0, "train: --epochs must be positive, got ", epochs);
  CXR_CHECK(batch_size > 0, "train: --batch-size must be positive, got ", batch_size);
  CXR_CHECK(lr > 0 && text_lr > 0, "train: learning rates must be positive");
  CXR_CHECK(warmup >= 0 && warmup <= 1, "train: --warmup is a fraction in [0, 1], got ", warmup);
  CXR_CHECK(labeled_fraction >= 0 && labeled_fraction <= 1, "train: --labeled-fraction must be in [0, 1], got ",
            labeled_fraction);
  CXR_CHECK(!train_splits.empty(), "train: --train-splits is empty");
  check_one_of("joint-mode", joint_mode, {"supervised", "semisupervised_phase1", "semisupervised_phase2"});
  check_one_of("similarity", similarity, {"dot", "cosine", "l2"});
  check_one_of("bound", bound, {"dv", "infonce-seed", "infonce"});
  check_one_of("mi-level", mi_level, {"global", "local", "both"});
  check_one_of("local-select", local_select, {"max", "sample-max", "mean"});
  check_one_of("encoder", encoder, {"frozen", "tuned"});
  check_one_of("vae-head", vae_head, {"classifier", "regressor"});
  check_one_of("likelihood", likelihood, {"bernoulli", "gaussian"});
  method_spec(method).check_options(*this);
  CXR_CHECK(max_seq_length >= 8, "train: --max-seq-length must be at least 8");
  CXR_CHECK(!sync_bn || distributed, "train: --sync-bn synchronizes batch norm over the ranks of a --distributed run");
  CXR_CHECK(bucket_mb > 0, "train: --bucket-mb must be positive, got ", bucket_mb);
  CXR_CHECK(dist_timeout > 0, "train: --dist-timeout must be positive, got ", dist_timeout);
}

}  // namespace cxr::train
