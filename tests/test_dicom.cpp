// test_dicom.cpp — data/dicom and `cxr convert-dicom` on DICOM files this test writes with DCMTK:
// stored values (BitsStored masking, sign extension, 8/16-bit, MONOCHROME1 kept as the reference
// did), RLE-compressed pixel data, the reference PNG pipeline against NumPy/PIL goldens, broken
// files that must give errors naming the file, and the CLI with MIMIC names.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <cstdlib>
#include <filesystem>

#include "data/dicom.h"
#include "data/image.h"
#include "data/transforms.h"
#include "tensor/file_io.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::testing;
namespace fs = std::filesystem;

namespace {

struct DicomSpec {
  int bits_allocated = 16, bits_stored = 12;
  bool is_signed = false;
  std::string photometric = "MONOCHROME2";
  int samples = 1;
  bool rle = false;
  bool pixel_data = true;
};

// Writes a DICOM image whose PixelData holds `raw` (the exact stored words, row-major).
void write_dicom(const fs::path& path, int rows, int cols, const std::vector<uint16_t>& raw, const DicomSpec& s = {}) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  REQUIRE(ds->putAndInsertString(DCM_SOPClassUID, UID_DigitalXRayImageStorageForPresentation).good());
  REQUIRE(ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1143.1").good());
  ds->putAndInsertString(DCM_Modality, "DX");
  ds->putAndInsertUint16(DCM_Rows, Uint16(rows));
  ds->putAndInsertUint16(DCM_Columns, Uint16(cols));
  ds->putAndInsertUint16(DCM_SamplesPerPixel, Uint16(s.samples));
  ds->putAndInsertString(DCM_PhotometricInterpretation, s.photometric.c_str());
  ds->putAndInsertUint16(DCM_BitsAllocated, Uint16(s.bits_allocated));
  ds->putAndInsertUint16(DCM_BitsStored, Uint16(s.bits_stored));
  ds->putAndInsertUint16(DCM_HighBit, Uint16(s.bits_stored - 1));
  ds->putAndInsertUint16(DCM_PixelRepresentation, s.is_signed ? 1 : 0);
  if (s.pixel_data) {
    if (s.bits_allocated == 16) {
      REQUIRE(ds->putAndInsertUint16Array(DCM_PixelData, raw.data(), raw.size()).good());
    } else {
      std::vector<Uint8> bytes(raw.begin(), raw.end());
      REQUIRE(ds->putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size()).good());
    }
  }
  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  if (s.rle) {
    DcmRLEEncoderRegistration::registerCodecs();
    REQUIRE(ds->chooseRepresentation(EXS_RLELossless, nullptr).good());
    REQUIRE(ds->canWriteXfer(EXS_RLELossless));
    xfer = EXS_RLELossless;
  }
  OFCondition st = ff.saveFile(path.string().c_str(), xfer);
  REQUIRE_MESSAGE(st.good(), st.text());
}

std::vector<uint16_t> ramp(int rows, int cols, int high, int seed = 0) {
  std::vector<uint16_t> v(size_t(rows * cols));
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) v[size_t(i * cols + j)] = uint16_t((i * 37 + j * 11 + (i * j + seed) % 17) % (high + 1));
  return v;
}

}  // namespace

TEST_CASE("read_dicom returns the stored values: 16-bit, BitsStored masking, 8-bit, RLE") {
  const fs::path dir = fresh_temp_dir("dicom_read");
  auto raw = ramp(30, 20, 4095);
  raw[5] = 0xF123;  // garbage above BitsStored = 12 (old overlay bits): masked to 0x123
  write_dicom(dir / "a.dcm", 30, 20, raw);
  DicomPixels d = read_dicom((dir / "a.dcm").string());
  REQUIRE(d.pixels.shape() == Shape{30, 20});
  auto v = d.pixels.to_vector();
  CHECK(v[5] == 0x123);
  for (size_t i = 0; i < v.size(); ++i)
    if (i != 5) CHECK(v[i] == raw[i]);
  CHECK(d.bits_stored == 12);
  CHECK(d.photometric == "MONOCHROME2");
  // The same pixels RLE-compressed decode to the same values.
  write_dicom(dir / "rle.dcm", 30, 20, raw, {.rle = true});
  DicomPixels r = read_dicom((dir / "rle.dcm").string());
  CHECK(contains(r.transfer_syntax, "RLE"));
  CHECK(max_abs_diff(r.pixels, d.pixels) == 0);
  // 8-bit.
  write_dicom(dir / "b.dcm", 4, 3, {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255}, {.bits_allocated = 8, .bits_stored = 8});
  CHECK(read_dicom((dir / "b.dcm").string()).pixels.to_vector() == std::vector<double>{0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255});
  fs::remove_all(dir);
}

TEST_CASE("read_dicom: signed pixels are sign-extended from BitsStored, MONOCHROME1 kept unless asked") {
  const fs::path dir = fresh_temp_dir("dicom_signed");
  // -5 and 7 in 12-bit two's complement, once sign-extended to 16 bits and once not.
  write_dicom(dir / "s.dcm", 1, 4, {0xFFFB, 0x0FFB, 7, 0x0800}, {.is_signed = true});
  CHECK(read_dicom((dir / "s.dcm").string()).pixels.to_vector() == std::vector<double>{-5, -5, 7, -2048});
  write_dicom(dir / "m1.dcm", 1, 3, {0, 100, 4000}, {.photometric = "MONOCHROME1"});
  CHECK(read_dicom((dir / "m1.dcm").string()).pixels.to_vector() == std::vector<double>{0, 100, 4000});
  CHECK(read_dicom((dir / "m1.dcm").string(), {.invert_monochrome1 = true}).pixels.to_vector() == std::vector<double>{4000, 3900, 0});
  fs::remove_all(dir);
}

TEST_CASE("dicom_to_png_values matches the reference's dcm_to_png.py (PIL int32 resize, 65535 * img / max, uint16)") {
  for (const char* name : {"dcm2png.12bit_portrait", "dcm2png.16bit_landscape", "dcm2png.upscale"}) {
    INFO(name);
    DicomPixels d;
    d.pixels = golden_tensor("transforms", std::string(name) + ".in0");
    const int64_t size = int64_t(golden_tensor("transforms", std::string(name) + ".args").to_vector()[0]);
    Tensor out = dicom_to_png_values(d, size);
    Tensor expected = golden_tensor("transforms", std::string(name) + ".out");
    REQUIRE(out.shape() == expected.shape());
    CHECK(max_abs_diff(out, expected) == 0);
  }
  DicomPixels zero;
  zero.pixels = zeros({8, 8});
  CHECK_THROWS_AS(dicom_to_png_values(zero, 4), Error);
}

TEST_CASE("convert_dicom writes the 16-bit PNG of the reference pipeline") {
  const fs::path dir = fresh_temp_dir("dicom_convert");
  auto raw = ramp(300, 250, 4095, 3);
  write_dicom(dir / "x.dcm", 300, 250, raw);
  convert_dicom((dir / "x.dcm").string(), (dir / "x.png").string(), 256);
  Image png = load_image((dir / "x.png").string());
  CHECK(png.bit_depth == 16);
  REQUIRE(png.pixels.shape() == Shape{307, 256});  // shorter edge 250 -> 256, 300 -> int(307.2)
  Tensor expected = dicom_to_png_values(read_dicom((dir / "x.dcm").string()), 256);
  CHECK(max_abs_diff(png.pixels, expected) == 0);
  CHECK(max(png.pixels).item<float>() == 65535.0f);
  fs::remove_all(dir);
}

TEST_CASE("read_dicom: broken and unsupported files give errors naming the file") {
  const fs::path dir = fresh_temp_dir("dicom_broken");
  const std::string missing = (dir / "missing.dcm").string();
  CHECK(contains(error_of([&] { read_dicom(missing); }), missing + ": cannot read DICOM: no such file"));
  write_file_atomic((dir / "text.dcm").string(), "this is not a DICOM file at all, just some text that is long enough............");
  CHECK(contains(error_of([&] { read_dicom((dir / "text.dcm").string()); }), "text.dcm: "));
  write_file_atomic((dir / "empty.dcm").string(), "");
  CHECK(contains(error_of([&] { read_dicom((dir / "empty.dcm").string()); }), "empty.dcm: "));
  auto raw = ramp(40, 30, 4095);
  write_dicom(dir / "ok.dcm", 40, 30, raw);
  const std::string bytes = read_file((dir / "ok.dcm").string());
  // Truncated at several points: always an error, never a crash (run under ASan).
  for (size_t cut : {size_t(10), size_t(132), size_t(200), bytes.size() / 2, bytes.size() - 3}) {
    write_file_atomic((dir / "cut.dcm").string(), bytes.substr(0, cut));
    INFO("cut at ", cut);
    CHECK(contains(error_of([&] { read_dicom((dir / "cut.dcm").string()); }), "cut.dcm: "));
  }
  write_dicom(dir / "nopix.dcm", 4, 4, {}, {.pixel_data = false});
  CHECK(contains(error_of([&] { read_dicom((dir / "nopix.dcm").string()); }), "nopix.dcm: DICOM file has no pixel data"));
  write_dicom(dir / "rgb.dcm", 2, 2, std::vector<uint16_t>(12, 1), {.bits_allocated = 8, .bits_stored = 8, .photometric = "RGB", .samples = 3});
  CHECK(contains(error_of([&] { read_dicom((dir / "rgb.dcm").string()); }), "rgb.dcm: DICOM image has 3 samples per pixel"));
  write_dicom(dir / "big.dcm", 40, 30, raw);
  CHECK(contains(error_of([&] { read_dicom((dir / "big.dcm").string(), {.max_dimension = 32}); }), "exceed the limit of 32"));
  fs::remove_all(dir);
}

TEST_CASE("cxr convert-dicom converts a MIMIC tree with MIMIC names and reports failures") {
  const fs::path dir = fresh_temp_dir("dicom_cli");
  const fs::path study = dir / "files" / "p10" / "p10000032" / "s50414267";
  fs::create_directories(study);
  write_dicom(study / "02aa804e-bde0afdd.dcm", 40, 30, ramp(40, 30, 4095, 1));
  write_dicom(study / "2a2277a9-b0ded155.dcm", 30, 40, ramp(30, 40, 4095, 2));
  write_file_atomic((study / "broken.dcm").string(), "DICM?");
  const std::string cmd = std::string(CXR_CLI_PATH) + " convert-dicom --size 16 --mimic-names --threads 2 --out-dir " +
                          (dir / "png").string() + " " + (dir / "files").string() + " > /dev/null 2> " + (dir / "err.txt").string();
  int rc = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(rc) == 1);  // one file failed
  CHECK(contains(read_file((dir / "err.txt").string()), "broken.dcm"));
  Image a = load_image((dir / "png" / "p10000032_s50414267_02aa804e-bde0afdd.png").string());
  CHECK(a.pixels.shape() == Shape{21, 16});
  Image b = load_image((dir / "png" / "p10000032_s50414267_2a2277a9-b0ded155.png").string());
  CHECK(b.pixels.shape() == Shape{16, 21});
  fs::remove_all(dir);
}
