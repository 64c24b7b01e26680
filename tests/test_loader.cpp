// test_loader.cpp — data/loader on a small phantom dataset written here: batch shapes and label
// alignment, the epoch order fixed by (seed, epoch), identical batches (random transforms
// included) for 1 and 4 workers, drop_last, split selection, the bounded prefetch, unreadable
// samples skipped and counted (or, strict, an error naming the file), and the tokenizer hook.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "data/image.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "data/phantom.h"
#include "tensor/file_io.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::data;
namespace fs = std::filesystem;

namespace {

// n phantom images of 40x40 in a temp directory, with a manifest (reports inline).
struct Dataset {
  fs::path dir;
  Manifest manifest;
  explicit Dataset(int n, const std::string& name) {
    dir = fs::temp_directory_path() / ("cxr_loader_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir / "images");
    PhantomOptions o;
    o.size = 40;
    auto plan = plan_phantoms(n, 17, o);
    manifest.path = (dir / "manifest.csv").string();
    for (const auto& im : plan) {
      write_png((dir / "images" / (im.id + ".png")).string(), render_phantom(im, o), 16);
      ManifestRow r;
      r.id = im.id;
      r.image = "images/" + im.id + ".png";
      r.report = write_phantom_report(im);
      r.patient_id = im.patient_id;
      r.study_id = im.study_id;
      r.edema = im.findings.edema;
      auto l = chexpert_labels(im.findings);
      for (size_t c = 0; c < 14; ++c) r.chexpert[c] = l[c];
      manifest.rows.push_back(r);
    }
    assign_splits(manifest, {.seed = 1, .test_fraction = 0.25, .val_fraction = 0.0});
    write_manifest(manifest.path, manifest);
    manifest = read_manifest(manifest.path);
  }
  ~Dataset() { fs::remove_all(dir); }
};

std::vector<Batch> epoch(Loader& l, int64_t e) {
  l.start_epoch(e);
  std::vector<Batch> out;
  while (auto b = l.next()) out.push_back(std::move(*b));
  return out;
}

std::vector<std::string> ids_of(const std::vector<Batch>& bs) {
  std::vector<std::string> ids;
  for (const auto& b : bs) ids.insert(ids.end(), b.ids.begin(), b.ids.end());
  return ids;
}

}  // namespace

TEST_CASE("Loader: batches of (N, 1, H, W) with aligned labels, every row once per epoch") {
  Dataset d(23, "basic");
  Loader l(d.manifest, {.batch_size = 5, .seed = 3, .workers = 2, .transform = eval_transform(32)});
  CHECK(l.size() == 23);
  CHECK(l.batches_per_epoch() == 5);
  auto bs = epoch(l, 0);
  REQUIRE(bs.size() == 5);
  CHECK(bs[0].images.shape() == Shape{5, 1, 32, 32});
  CHECK(bs[4].size() == 3);
  CHECK(bs[0].edema.shape() == Shape{5});
  CHECK(bs[0].chexpert.shape() == Shape{5, 14});
  auto ids = ids_of(bs);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 23);
  for (const auto& b : bs)
    for (int64_t i = 0; i < b.size(); ++i) {
      const auto& row = d.manifest.rows[size_t(b.rows[size_t(i)])];
      CHECK(row.id == b.ids[size_t(i)]);
      CHECK(b.edema.to_vector()[size_t(i)] == row.edema);
      CHECK(b.chexpert.select(0, i).to_vector()[8] == row.chexpert[8]);
      CHECK(b.study_ids[size_t(i)] == row.study_id);
      // eval transform: max-normalized
      CHECK(max(b.images.select(0, i)).item<float>() == doctest::Approx(1.0f));
    }
  CHECK(l.stats().loaded == 23);
  CHECK(l.stats().skipped == 0);
}

TEST_CASE("Loader: the order is fixed by (seed, epoch), batches do not depend on the worker count") {
  Dataset d(30, "order");
  LoaderOptions o{.batch_size = 4, .seed = 9, .workers = 1, .transform = mutual_info_train_transform(32)};
  Loader one(d.manifest, o);
  o.workers = 4;
  o.prefetch = 2;
  Loader four(d.manifest, o);
  auto a = epoch(one, 0), b = epoch(four, 0);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].ids == b[i].ids);
    CHECK(max_abs_diff(a[i].images, b[i].images) == 0);  // same random affine per sample
  }
  // Same epoch again: the same batches. Next epoch: another order and other augmentations.
  auto again = epoch(one, 0), next = epoch(one, 1);
  CHECK(ids_of(again) == ids_of(a));
  CHECK(max_abs_diff(again[0].images, a[0].images) == 0);
  CHECK(ids_of(next) != ids_of(a));
  CHECK(one.epoch_order(1) == four.epoch_order(1));
  // Another seed, another order; no shuffle, manifest order.
  Loader other(d.manifest, {.batch_size = 4, .seed = 10});
  CHECK(other.epoch_order(0) != one.epoch_order(0));
  Loader plain(d.manifest, {.batch_size = 4, .shuffle = false});
  auto order = plain.epoch_order(5);
  for (size_t i = 0; i < order.size(); ++i) CHECK(order[i] == int64_t(i));
}

TEST_CASE("Loader: drop_last, split selection and filters") {
  Dataset d(23, "select");
  Loader l(d.manifest, {.batch_size = 5, .drop_last = true, .transform = eval_transform(32)});
  auto bs = epoch(l, 0);
  CHECK(bs.size() == 4);
  for (const auto& b : bs) CHECK(b.size() == 5);
  Loader test(d.manifest, {.batch_size = 100, .splits = {"test"}, .transform = eval_transform(32)});
  auto tb = epoch(test, 0);
  REQUIRE(tb.size() == 1);
  for (int64_t r : tb[0].rows) CHECK(d.manifest.rows[size_t(r)].split == "test");
  Loader labelled(d.manifest, {.batch_size = 100, .filter = [](const ManifestRow& r) { return r.edema >= 2; },
                               .transform = eval_transform(32)});
  for (const auto& b : epoch(labelled, 0))
    for (double e : b.edema.to_vector()) CHECK(e >= 2);
}

TEST_CASE("Loader: unreadable samples are skipped, counted and named, strict fails with the file") {
  Dataset d(12, "broken");
  // Break two images: one missing, one truncated.
  fs::remove(d.manifest.image_path(d.manifest.rows[3]));
  const std::string bad = d.manifest.image_path(d.manifest.rows[7]);
  std::string bytes = read_file(bad);
  write_file_atomic(bad, bytes.substr(0, bytes.size() / 2));
  Loader l(d.manifest, {.batch_size = 4, .shuffle = false, .workers = 3, .warn = false, .transform = eval_transform(32)});
  auto bs = epoch(l, 0);
  REQUIRE(bs.size() == 3);  // 10 readable samples: 4 + 4 + 2, batches filled from the following samples
  CHECK(bs[0].size() == 4);
  CHECK(bs[1].size() == 4);
  CHECK(bs[2].size() == 2);
  auto ids = ids_of(bs);
  CHECK(std::find(ids.begin(), ids.end(), d.manifest.rows[3].id) == ids.end());
  auto st = l.stats();
  CHECK(st.skipped == 2);
  CHECK(st.loaded == 10);
  REQUIRE(st.errors.size() == 2);
  CHECK(st.errors[0].find(d.manifest.rows[3].id) != std::string::npos);
  CHECK(st.errors[1].find("truncated") != std::string::npos);
  CHECK(st.errors[1].find(":" + std::to_string(d.manifest.rows[7].line) + ": ") != std::string::npos);

  Loader strict(d.manifest, {.batch_size = 4, .shuffle = false, .strict = true, .transform = eval_transform(32)});
  strict.start_epoch(0);
  std::string error;
  try {
    while (strict.next()) {
    }
  } catch (const Error& e) {
    error = e.what();
  }
  CHECK(error.find(d.manifest.image_path(d.manifest.rows[3])) != std::string::npos);
  CHECK(error.find("no such file") != std::string::npos);

  // Images of different sizes without a transform: the odd one out is skipped with a message.
  Manifest mixed = d.manifest;
  write_png(mixed.image_path(mixed.rows[5]), zeros({20, 30}), 16);
  Loader raw(mixed, {.batch_size = 20, .shuffle = false, .warn = false});
  auto rb = epoch(raw, 0);
  CHECK(rb[0].images.shape() == Shape{9, 1, 40, 40});
  const auto errors = raw.stats().errors;
  REQUIRE(errors.size() == 3);
  CHECK(errors[1].find("does not match the batch's [40, 40]") != std::string::npos);
}

TEST_CASE("Loader: prefetch is bounded while the consumer waits") {
  Dataset d(40, "bounded");
  Loader l(d.manifest, {.batch_size = 2, .workers = 3, .prefetch = 2, .transform = eval_transform(32)});
  l.start_epoch(0);
  // Wait (up to 20 s on a loaded machine) until the buffers have filled, then a little longer.
  const auto t0 = std::chrono::steady_clock::now();
  while (l.stats().loaded < 8 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // At most prefetch batches queued + a ring of prefetch * batch_size samples + one batch being built.
  CHECK(l.stats().loaded <= 2 * 2 + 2 * 2 + 2);
  CHECK(l.stats().loaded >= 8);
  int n = 0;
  while (auto b = l.next()) n += int(b->size());
  CHECK(n == 40);
  // Restarting mid-epoch is safe.
  l.start_epoch(1);
  CHECK(l.next().has_value());
  l.start_epoch(2);
  CHECK(l.next().has_value());
}

TEST_CASE("Loader: reports and the tokenizer hook") {
  Dataset d(6, "text");
  TextEncoder enc;
  enc.max_length = 8;
  enc.pad_id = 0;
  enc.encode = [](const std::string& s) {
    std::vector<int64_t> ids = {101};
    for (size_t i = 0; i < s.size() && ids.size() < 20; ++i) ids.push_back(int64_t(static_cast<unsigned char>(s[i])));
    return ids;
  };
  Loader l(d.manifest, {.batch_size = 3, .shuffle = false, .transform = eval_transform(32), .text = enc});
  auto bs = epoch(l, 0);
  REQUIRE(bs.size() == 2);
  CHECK(bs[0].reports[0] == d.manifest.rows[0].report);
  CHECK(bs[0].tokens.shape() == Shape{3, 8});
  CHECK(bs[0].tokens.select(0, 0).to_vector()[0] == 101);
  CHECK(bs[0].tokens.select(0, 0).to_vector()[1] == double(static_cast<unsigned char>(d.manifest.rows[0].report[0])));
  CHECK(bs[0].token_mask.select(0, 0).to_vector() == std::vector<double>(8, 1.0));
  // Short texts are padded with pad_id and mask 0.
  enc.encode = [](const std::string&) { return std::vector<int64_t>{7, 8}; };
  Loader s(d.manifest, {.batch_size = 6, .transform = eval_transform(32), .text = enc});
  auto sb = epoch(s, 0);
  CHECK(sb[0].tokens.select(0, 2).to_vector() == std::vector<double>{7, 8, 0, 0, 0, 0, 0, 0});
  CHECK(sb[0].token_mask.select(0, 2).to_vector() == std::vector<double>{1, 1, 0, 0, 0, 0, 0, 0});
  CHECK_THROWS_AS(Loader(d.manifest, {.batch_size = 0}), Error);
}
