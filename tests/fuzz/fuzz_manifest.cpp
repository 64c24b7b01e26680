// fuzz_manifest.cpp — fuzz harness: any bytes as manifest.csv through data::read_manifest (the CSV
// reader, then column and value validation). When it reads, write_manifest + read_manifest give
// the same rows back (ids, paths, labels, extra columns).
#include "data/manifest.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  const std::string path = fuzz::scratch_file("manifest.csv", {reinterpret_cast<const char*>(data), size});
  data::Manifest m;
  if (!fuzz::expect_errors([&] { m = data::read_manifest(path); })) return 0;
  for (const auto& row : m.rows) (void)m.image_path(row), (void)m.where(row);
  const std::string copy = fuzz::scratch_dir() + "/copy.csv";
  data::write_manifest(copy, m);
  data::Manifest back = data::read_manifest(copy);
  fuzz::require(back.rows.size() == m.rows.size() && back.extra_columns == m.extra_columns, "manifest round trip: shape");
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const auto &a = m.rows[i], &b = back.rows[i];
    fuzz::require(a.id == b.id && a.image == b.image && a.report == b.report && a.patient_id == b.patient_id &&
                      a.study_id == b.study_id && a.split == b.split && a.edema == b.edema &&
                      a.chexpert == b.chexpert && a.extra == b.extra,
                  "manifest round trip: row values");
  }
  return 0;
}
