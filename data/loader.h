// loader.h — batches from a manifest: images (N, 1, H, W) float32, edema (N) and CheXpert (N, 14)
// int64 labels, ids, study ids, optionally report texts and token ids, prefetched by background
// threads through bounded buffers.
//   order:   a permutation of the selected rows fixed by (seed, epoch) (or manifest order)
//   samples: loaded by `workers` threads, at most `prefetch` batches ahead; each sample's random
//            transform draws from its own Philox stream (seed, epoch, row), so batches are the
//            same whatever the number of workers and however the threads interleave
//   batches: filled with the next readable samples in order; drop_last drops a short last batch
//   shards:  for data-parallel training (docs/DISTRIBUTED.md), shard_count processes share the rows:
//            every one computes the same order, then takes positions shard_rank, shard_rank +
//            shard_count, ... of it; with shard_even the order is first cut to a multiple of
//            shard_count, so every shard has the same length (the ranks take the same number of
//            steps). Batch k of the shards together is batch k of one process with shard_count
//            times the batch size.
//   failures (missing or corrupt file, a transform error, a shape unlike the batch's): by default
//            the sample is skipped, a warning naming the file goes to stderr and it is counted in
//            stats(); with strict = true the next call to next() throws that error
// Tokenized reports: give LoaderOptions::text an encoder (e.g. the WordPiece tokenizer) and the
// batch carries tokens and mask (N, max_length); without one they are undefined.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/manifest.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace cxr::data {

// An image transform: raw pixels (H, W) float32 in, model input (h, w) float32 out.
using ImageTransform = std::function<Tensor(const Tensor& pixels, Generator& gen)>;

// The reference pipelines (METHODS.md §1, §7, §8):
// evaluation: center_crop(size) (torchvision, zero-padded if smaller), then x / max(1e-3, max)
ImageTransform eval_transform(int64_t size);
// (d) training: RandomAffine(degrees (-20, 20), translate (0.1, 0.1), nearest, fill 0) on the
// uint16 image, center_crop(size), x / max(1e-3, max)
ImageTransform mutual_info_train_transform(int64_t size);
// The shorter edge resized to `shorter_edge` first (PIL bilinear, as the reference's preprocessing),
// then `inner`; shorter_edge <= 0 returns `inner` unchanged. For images stored larger than the model's
// input (e.g. 256-pixel PNGs for resnet128_6_2_1), where a center crop alone would cut the lungs.
ImageTransform resized(int64_t shorter_edge, ImageTransform inner);
// (c) training: x / max, random translate-and-crop to size (shift ~ N(0, 200 px) at 2048);
// shift_std scales with size / 2048 so that smaller inputs get the same relative shift
ImageTransform joint_train_transform(int64_t size, double shift_std = -1);

// Text encoding hook: text -> token ids (without padding); the loader pads/truncates to max_length.
struct TextEncoder {
  std::function<std::vector<int64_t>(const std::string&)> encode = {};
  int64_t max_length = 320;
  int64_t pad_id = 0;
};

struct LoaderOptions {
  int64_t batch_size = 8;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int64_t workers = 2;   // loading threads (>= 1)
  int64_t prefetch = 4;  // batches buffered ahead of the consumer (>= 1)
  bool strict = false;   // fail fast on the first unreadable sample
  bool warn = true;      // print a line on stderr per skipped sample
  std::vector<std::string> splits = {};  // rows whose split is one of these (empty: all rows)
  std::function<bool(const ManifestRow&)> filter = {};  // further row selection (e.g. edema >= 0)
  ImageTransform transform = {};  // empty: the raw pixels (all images must then have one size)
  bool load_reports = false;  // fill Batch::reports with Manifest::report_text
  std::optional<TextEncoder> text = {};  // tokenized reports (implies load_reports)
  int64_t shard_rank = 0, shard_count = 1;  // this process's share of the rows (see above)
  bool shard_even = true;                   // cut the order to a multiple of shard_count first
};

struct Batch {
  Tensor images;    // (N, 1, H, W) float32
  Tensor edema;     // (N) int64, -1 unlabelled
  Tensor chexpert;  // (N, 14) int64, -2 absent
  std::vector<std::string> ids, study_ids, reports;
  std::vector<int64_t> rows;  // manifest row indices
  Tensor tokens, token_mask;  // (N, L) int64 when LoaderOptions::text is set
  int64_t size() const { return int64_t(ids.size()); }
};

struct LoaderStats {
  int64_t loaded = 0;   // samples read successfully this epoch (including those still buffered)
  int64_t skipped = 0;  // unreadable samples skipped this epoch
  std::vector<std::string> errors;  // their messages (the first 100)
};

class Loader {
 public:
  Loader(Manifest manifest, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) an epoch: computes its order and launches the threads.
  void start_epoch(int64_t epoch);
  // The next batch of the epoch, nullopt at its end. Throws (strict) the sample's error.
  std::optional<Batch> next();

  int64_t size() const;                                        // rows of this shard (all selected rows: one shard)
  int64_t selected() const { return int64_t(selected_.size()); }  // rows selected, before sharding
  int64_t batches_per_epoch() const;                           // assuming every sample loads
  std::vector<int64_t> epoch_order(int64_t epoch) const;      // this shard's row indices in epoch order
  LoaderStats stats() const;
  const Manifest& manifest() const { return manifest_; }

 private:
  struct Sample {
    bool ok = false;
    std::string error;
    Tensor image;  // (h, w)
    std::string report;
    std::vector<int64_t> tokens;
  };
  struct Slot {
    bool ready = false;
    Sample sample;
  };
  void stop();
  void worker_loop();
  void assembler_loop();
  Sample load_sample(int64_t position);
  Batch collate(std::vector<std::pair<int64_t, Sample>>& items);

  Manifest manifest_;
  LoaderOptions options_;
  std::vector<int64_t> selected_;

  // Epoch state, guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
  std::vector<Slot> ring_;
  int64_t next_position_ = 0;  // next sample a worker takes
  int64_t consumed_ = 0;       // samples the assembler has taken
  std::deque<Batch> queue_;
  bool finished_ = false;      // the assembler has pushed the last batch
  bool stopping_ = false;
  std::string fatal_;          // strict-mode error for next()
  LoaderStats stats_;
  std::vector<std::thread> threads_;
};

}  // namespace cxr::data
