// loader.cpp — see loader.h. Threads: `workers` loaders fill a ring of prefetch * batch_size
// sample slots in epoch order (a worker takes position p only when p < consumed + ring size); one
// assembler takes the slots in order, builds batches and pushes them into a queue of at most
// `prefetch` batches; next() pops. One mutex and one condition variable guard it all: the work
// per lock is tiny next to decoding an image.
#include "data/loader.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "data/image.h"
#include "data/transforms.h"
#include "tensor/error.h"
#include "ops/ops.h"

namespace cxr::data {

namespace {

uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

ImageTransform eval_transform(int64_t size) {
  return [size](const Tensor& x, Generator&) { return normalize_max(center_crop(x, size, size)); };
}

ImageTransform resized(int64_t shorter_edge, ImageTransform inner) {
  if (shorter_edge <= 0) return inner;
  return [shorter_edge, inner](const Tensor& x, Generator& gen) { return inner(resize_shorter_edge(x, shorter_edge), gen); };
}

ImageTransform mutual_info_train_transform(int64_t size) {
  return [size](const Tensor& x, Generator& gen) {
    RandomAffine affine;  // (-20, 20) degrees, (0.1, 0.1) translation, the reference's centre
    return normalize_max(center_crop(affine(x, gen), size, size));
  };
}

ImageTransform joint_train_transform(int64_t size, double shift_std) {
  RandomTranslateCrop t;
  t.out_h = t.out_w = size;
  t.shift_std = shift_std >= 0 ? shift_std : 200.0 * double(size) / 2048.0;
  return [t](const Tensor& x, Generator& gen) { return t(normalize_max(x), gen); };
}

Loader::Loader(Manifest manifest, LoaderOptions options) : manifest_(std::move(manifest)), options_(std::move(options)) {
  CXR_CHECK(options_.batch_size >= 1, "Loader: batch_size must be >= 1, got ", options_.batch_size);
  CXR_CHECK(options_.workers >= 1 && options_.workers <= 256, "Loader: workers must be in 1..256, got ", options_.workers);
  CXR_CHECK(options_.prefetch >= 1, "Loader: prefetch must be >= 1, got ", options_.prefetch);
  CXR_CHECK(options_.shard_count >= 1 && options_.shard_rank >= 0 && options_.shard_rank < options_.shard_count,
            "Loader: shard ", options_.shard_rank, " of ", options_.shard_count, " does not exist");
  if (options_.text) {
    CXR_CHECK(bool(options_.text->encode) && options_.text->max_length >= 1, "Loader: TextEncoder needs encode and max_length >= 1");
    options_.load_reports = true;
  }
  for (size_t r = 0; r < manifest_.rows.size(); ++r) {
    const auto& row = manifest_.rows[r];
    if (!options_.splits.empty() && std::find(options_.splits.begin(), options_.splits.end(), row.split) == options_.splits.end())
      continue;
    if (options_.filter && !options_.filter(row)) continue;
    selected_.push_back(int64_t(r));
  }
}

Loader::~Loader() { stop(); }

int64_t Loader::size() const {
  const int64_t n = int64_t(selected_.size()), k = options_.shard_count, r = options_.shard_rank;
  if (k == 1) return n;
  if (options_.shard_even) return n / k;
  return n / k + (r < n % k ? 1 : 0);
}

int64_t Loader::batches_per_epoch() const {
  const int64_t n = size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order = selected_;
  if (options_.shuffle) {
    // Fisher-Yates with Philox draws keyed by (seed, epoch).
    Generator gen(mix64(mix64(options_.seed) ^ (uint64_t(epoch) + 0x5851F42D4C957F2Dull)));
    for (size_t i = order.size(); i > 1; --i) {
      const size_t j = size_t(gen.integer(gen.reserve(1), 0, int64_t(i)));
      std::swap(order[i - 1], order[j]);
    }
  }
  if (options_.shard_count > 1) {
    const size_t k = size_t(options_.shard_count);
    if (options_.shard_even) order.resize(order.size() / k * k);
    std::vector<int64_t> mine;
    for (size_t p = size_t(options_.shard_rank); p < order.size(); p += k) mine.push_back(order[p]);
    order = std::move(mine);
  }
  return order;
}

LoaderStats Loader::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Loader::start_epoch(int64_t epoch) {
  stop();
  std::lock_guard<std::mutex> lock(mutex_);
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  ring_.assign(size_t(options_.prefetch * options_.batch_size), Slot{});
  next_position_ = 0;
  consumed_ = 0;
  queue_.clear();
  finished_ = false;
  stopping_ = false;
  fatal_.clear();
  stats_ = LoaderStats{};
  for (int64_t w = 0; w < options_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
  threads_.emplace_back([this] { assembler_loop(); });
}

Loader::Sample Loader::load_sample(int64_t position) {
  Sample s;
  const int64_t r = order_[size_t(position)];
  const ManifestRow& row = manifest_.rows[size_t(r)];
  try {
    Image img = load_image(manifest_.image_path(row));
    Tensor x = img.pixels;
    if (options_.transform) {
      // The sample's own random stream: (seed, epoch, row).
      Generator gen(mix64(mix64(options_.seed ^ 0xA5A5A5A5ull) + uint64_t(epoch_) * 0x9E3779B97F4A7C15ull + uint64_t(r)));
      x = options_.transform(x, gen);
    }
    CXR_CHECK(x.dim() == 2, "transform returned ", shape_str(x.shape()), ", expected (H, W)");
    s.image = x.to(DType::Float32).contiguous();
    if (options_.load_reports) s.report = manifest_.report_text(row);
    if (options_.text) s.tokens = options_.text->encode(s.report);
    s.ok = true;
  } catch (const std::exception& e) {
    s.ok = false;
    s.error = manifest_.where(row) + ": sample " + row.id + ": " + e.what();
  }
  return s;
}

void Loader::worker_loop() {
  const int64_t ring = int64_t(ring_.size());
  for (;;) {
    int64_t p;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || next_position_ >= int64_t(order_.size()) || next_position_ < consumed_ + ring; });
      if (stopping_ || next_position_ >= int64_t(order_.size())) return;
      p = next_position_++;
    }
    Sample s = load_sample(p);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (s.ok) stats_.loaded++;
      ring_[size_t(p % ring)].sample = std::move(s);
      ring_[size_t(p % ring)].ready = true;
    }
    cv_.notify_all();
  }
}

Batch Loader::collate(std::vector<std::pair<int64_t, Sample>>& items) {
  Batch b;
  const int64_t n = int64_t(items.size());
  const int64_t H = items[0].second.image.size(0), W = items[0].second.image.size(1);
  b.images = empty({n, 1, H, W});
  b.edema = empty({n}, {.dtype = DType::Int64});
  b.chexpert = empty({n, 14}, {.dtype = DType::Int64});
  float* img = b.images.data<float>();
  int64_t* ed = b.edema.data<int64_t>();
  int64_t* cx = b.chexpert.data<int64_t>();
  if (options_.text) {
    const int64_t L = options_.text->max_length;
    b.tokens = full({n, L}, double(options_.text->pad_id), {.dtype = DType::Int64});
    b.token_mask = zeros({n, L}, {.dtype = DType::Int64});
  }
  for (int64_t i = 0; i < n; ++i) {
    const auto& [r, s] = items[size_t(i)];
    const ManifestRow& row = manifest_.rows[size_t(r)];
    std::memcpy(img + i * H * W, s.image.data<float>(), size_t(H * W) * sizeof(float));
    ed[i] = row.edema;
    for (int64_t c = 0; c < 14; ++c) cx[i * 14 + c] = row.chexpert[size_t(c)];
    b.ids.push_back(row.id);
    b.study_ids.push_back(row.study_id);
    b.rows.push_back(r);
    if (options_.load_reports) b.reports.push_back(s.report);
    if (options_.text) {
      const int64_t L = options_.text->max_length, m = std::min<int64_t>(L, int64_t(s.tokens.size()));
      int64_t* t = b.tokens.data<int64_t>() + i * L;
      int64_t* mk = b.token_mask.data<int64_t>() + i * L;
      for (int64_t k = 0; k < m; ++k) t[k] = s.tokens[size_t(k)], mk[k] = 1;
    }
  }
  return b;
}

void Loader::assembler_loop() {
  const int64_t ring = int64_t(ring_.size()), total = int64_t(order_.size());
  std::vector<std::pair<int64_t, Sample>> items;
  auto push = [&](Batch&& b) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return stopping_ || int64_t(queue_.size()) < options_.prefetch; });
    if (stopping_) return false;
    queue_.push_back(std::move(b));
    cv_.notify_all();
    return true;
  };
  for (int64_t p = 0; p < total; ++p) {
    Sample s;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || ring_[size_t(p % ring)].ready; });
      if (stopping_) return;
      s = std::move(ring_[size_t(p % ring)].sample);
      ring_[size_t(p % ring)].ready = false;
      consumed_ = p + 1;
    }
    cv_.notify_all();
    const int64_t r = order_[size_t(p)];
    if (s.ok && !items.empty() && s.image.shape() != items[0].second.image.shape()) {
      s.ok = false;
      s.error = manifest_.where(manifest_.rows[size_t(r)]) + ": sample " + manifest_.rows[size_t(r)].id + ": image " +
                shape_str(s.image.shape()) + " does not match the batch's " + shape_str(items[0].second.image.shape()) +
                " (give the loader a transform that fixes the size)";
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.loaded--;
    }
    if (!s.ok) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (options_.strict) {
        fatal_ = s.error;
        finished_ = true;
        cv_.notify_all();
        return;
      }
      stats_.skipped++;
      if (stats_.errors.size() < 100) stats_.errors.push_back(s.error);
      if (options_.warn) std::fprintf(stderr, "cxr loader: skipping %s\n", s.error.c_str());
      continue;
    }
    items.emplace_back(r, std::move(s));
    if (int64_t(items.size()) == options_.batch_size) {
      if (!push(collate(items))) return;
      items.clear();
    }
  }
  if (!items.empty() && !options_.drop_last)
    if (!push(collate(items))) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  cv_.notify_all();
}

std::optional<Batch> Loader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  CXR_CHECK(!threads_.empty() || finished_, "Loader::next: call start_epoch first");
  cv_.wait(lock, [&] { return !queue_.empty() || finished_; });
  if (!queue_.empty()) {
    Batch b = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
    return b;
  }
  if (!fatal_.empty()) throw Error(fatal_);
  return std::nullopt;
}

}  // namespace cxr::data
