// test_image.cpp — data/image: PNG round trips at 8 and 16 bits, color to luminance against values
// computed by Pillow, JPEG decoding, a corpus of broken files written here (missing, empty,
// truncated at every length, corrupted bytes, decompression-bomb headers: always a cxr::Error,
// never a crash; run it under ASan), center-crop offsets and padding as torchvision, normalization.
#include <array>
#include <filesystem>

#include "data/image.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::data;
using namespace cxr::testing;

namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

uint32_t png_crc(const std::string& bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

// A 4x1 2-bit palette PNG written by Pillow 9.4; palette (255,0,0) (0,255,0) (7,200,99) (100,150,200).
const char* kPalettePng =
    "89504e470d0a1a0a0000000d49484452000000040000000102030000008452e75e0000000c504c5445ff000000ff0007c8636496c835"
    "328fb80000000a49444154789c63900600001d001c8ef4f5210000000049454e44ae426082";
// A 4x1 gray PNG with pixels 0, 10, 20, 30 and transparency = 10 (a tRNS chunk), from Pillow 9.4.
const char* kGrayTransparentPng =
    "89504e470d0a1a0a0000000d4948445200000004000000010800000000dc5750110000000274524e53000a964624260000000d49444154"
    "789c6364e0e2e2020000460020b7a21ec50000000049454e44ae426082";
// A 16x8 grayscale baseline JPEG (quality 90) written by Pillow 9.4, and Pillow's (libjpeg's) decoding.
const char* kGrayJpeg =
    "ffd8ffe000104a46494600010100000100010000ffdb0043000302020302020303030304030304050805050404050a070706080c0a0c0c"
    "0b0a0b0b0d0e12100d0e110e0b0b1016101113141515150c0f171816141812141514ffc0000b080008001001011100ffc4001f000001"
    "0501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d0102030004110512"
    "2131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748"
    "494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4"
    "b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00f9"
    "dfe047c2dff8f7fdcfa76afd0bf83fe03b1d034a9353d4e7b7d3b4db285ae6eaf2ee458a1822452cf23bb101555412589000049affd9";
const std::vector<double> kGrayJpegPillow = {
    0,   13,  26,  38,  52,  65,  78,  91,  105, 116, 129, 142, 161, 164, 183, 197,  //
    9,   22,  35,  47,  61,  74,  87,  100, 109, 131, 133, 154, 171, 178, 190, 200,  //
    18,  31,  44,  57,  71,  83,  97,  109, 124, 131, 156, 160, 163, 189, 206, 216,  //
    27,  40,  53,  65,  79,  92,  105, 118, 134, 138, 158, 166, 194, 195, 200, 221,  //
    36,  49,  62,  75,  89,  101, 114, 127, 135, 160, 169, 180, 193, 200, 226, 234,  //
    45,  57,  71,  83,  97,  110, 123, 136, 153, 161, 173, 189, 197, 218, 221, 236,  //
    54,  67,  80,  93,  107, 119, 132, 145, 159, 171, 184, 195, 217, 222, 238, 251,  //
    63,  76,  89,  102, 116, 128, 141, 154, 166, 181, 193, 207, 217, 228, 247, 2};

// A 16x8 RGB progressive JPEG (4:2:0, quality 90) written by Pillow 9.4, and Pillow's
// convert("L") of its decoding.
const char* kColorProgressiveJpeg =
    "ffd8ffe000104a46494600010100000100010000ffdb0043000302020302020303030304030304050805050404050a070706080c0a0c0c"
    "0b0a0b0b0d0e12100d0e110e0b0b1016101113141515150c0f171816141812141514ffdb00430103040405040509050509140d0b0d1414"
    "141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414141414ffc20011080008"
    "001003012200021101031101ffc400160001010100000000000000000000000000000305ffc40015010101000000000000000000000000"
    "00000506ffda000c03010002100310000001ae013297ffc40017100003010000000000000000000000000000010302ffda000801010001"
    "0502b54aedb7ffc4001a110002020300000000000000000000000001030004061231ffda0008010301013f01c46a256bdc0e09ffc40018"
    "11000203000000000000000000000000000002030511ffda0008010201013f01aa891574ffc40017100003010000000000000000000000"
    "000000011121ffda0008010100063f0222d67fffc400191001000203000000000000000000000000010011213141ffda0008010100013f"
    "21dd33a11a03b3ffda000c030100020003000000100fffc4001811010003010000000000000000000000000100113181ffda0008010301"
    "013f10d4b44e173fffc40017110003010000000000000000000000000000011131ffda0008010201013f1098ac54ffc400181001000301"
    "0000000000000000000000000100114131ffda0008010100013f106d4062083b53c0359fffd9";
const std::vector<double> kColorJpegPillowL = {
    150, 147, 144, 141, 138, 135, 132, 129, 126, 122, 117, 117, 118, 112, 106, 105,  //
    148, 145, 142, 139, 136, 133, 130, 127, 123, 123, 119, 112, 108, 108, 108, 106,  //
    145, 143, 139, 136, 134, 131, 127, 125, 122, 117, 115, 112, 107, 106, 103,  97,  //
    143, 140, 137, 134, 131, 128, 125, 122, 121, 111, 110, 114, 109, 102,  99,  98,  //
    140, 138, 134, 131, 129, 126, 122, 120, 117, 114, 112, 110, 104,  99,  99, 102,  //
    138, 136, 132, 129, 127, 124, 120, 118, 114, 116, 109, 102, 104, 103,  93,  87,  //
    136, 134, 130, 127, 125, 122, 118, 116, 112, 113, 103, 100, 107, 100,  91,  99,  //
    135, 133, 129, 126, 124, 121, 117, 115, 108, 110, 103, 103, 103,  87, 100, 145};

Tensor random_image(const Shape& shape, int max_value, uint64_t seed) {
  Generator g(seed);
  return randint(0, max_value + 1, shape, {.dtype = DType::Int64}, &g).to(DType::Float32);
}

}  // namespace

TEST_CASE("image: 8- and 16-bit grayscale PNG round trips are exact") {
  for (int depth : {8, 16}) {
    INFO("bit depth ", depth);
    const int top = depth == 8 ? 255 : 65535;
    Tensor pixels = random_image({7, 5}, top, 11 + depth);  // not square: catches an H/W swap
    pixels.set({0, 0}, 0);
    pixels.set({0, 1}, top);
    pixels.set({6, 4}, top - 1);
    pixels.set({3, 2}, depth == 8 ? 1 : 256);  // a 16-bit value with a zero low byte
    std::string path = temp_path("round_trip_" + std::to_string(depth) + ".png");
    write_png(path, pixels, depth);
    Image img = load_image(path);
    CHECK(img.bit_depth == depth);
    CHECK(img.channels == 1);
    CHECK(img.pixels.dtype() == DType::Float32);
    REQUIRE(img.pixels.shape() == Shape{7, 5});
    CHECK(max_abs_diff(img.pixels, pixels) == 0.0);
    std::filesystem::remove(path);
  }
}

TEST_CASE("image: color PNGs become luminance as Pillow's convert('L')") {
  // (R, G, B) -> L from Pillow 9.4 (which rounds: (0, 255, 0) gives 150, not 149).
  const std::vector<std::array<int, 4>> cases = {{255, 0, 0, 76},      {0, 255, 0, 150},    {0, 0, 255, 29},
                                                 {1, 1, 1, 1},         {100, 150, 200, 141}, {3, 7, 11, 6},
                                                 {254, 253, 252, 253}, {10, 0, 0, 3},       {0, 11, 0, 6},
                                                 {0, 0, 45, 5},        {128, 128, 128, 128}, {7, 200, 99, 131}};
  const int64_t n = static_cast<int64_t>(cases.size());
  for (int channels : {3, 4}) {
    INFO("channels ", channels);
    Tensor rgb = zeros({1, n, channels});
    for (int64_t i = 0; i < n; ++i) {
      for (int c = 0; c < 3; ++c) rgb.set({0, i, c}, cases[i][c]);
      if (channels == 4) rgb.set({0, i, 3}, i * 20);  // alpha is ignored
    }
    std::string path = temp_path("rgb.png");
    write_png(path, rgb, 8);
    Image img = load_image(path);
    CHECK(img.channels == channels);
    CHECK(img.bit_depth == 8);
    REQUIRE(img.pixels.shape() == Shape{1, n});
    for (int64_t i = 0; i < n; ++i) CHECK_MESSAGE(img.pixels.at({0, i}) == cases[i][3], "RGB case ", i);
    std::filesystem::remove(path);
  }
  SUBCASE("gray + alpha keeps the gray channel") {
    Tensor la = zeros({2, 1, 2});
    la.set({0, 0, 0}, 17), la.set({0, 0, 1}, 255), la.set({1, 0, 0}, 200), la.set({1, 0, 1}, 0);
    std::string path = temp_path("la.png");
    write_png(path, la, 8);
    Image img = load_image(path);
    CHECK(img.channels == 2);
    CHECK(img.pixels.to_vector() == std::vector<double>{17, 200});
    std::filesystem::remove(path);
  }
  SUBCASE("16-bit RGB: the same rounding on 16-bit samples") {
    Tensor rgb = zeros({1, 2, 3});
    rgb.set({0, 0, 0}, 65535), rgb.set({0, 1, 0}, 1000), rgb.set({0, 1, 1}, 30000), rgb.set({0, 1, 2}, 65535);
    std::string path = temp_path("rgb16.png");
    write_png(path, rgb, 16);
    Image img = load_image(path);
    CHECK(img.bit_depth == 16);
    CHECK(img.channels == 3);
    // (65535*19595 + 0x8000) >> 16 = 19595; (1000*19595 + 30000*38470 + 65535*7471 + 0x8000) >> 16 = 25380
    CHECK(img.pixels.to_vector() == std::vector<double>{19595, 25380});
    std::filesystem::remove(path);
  }
  SUBCASE("a gray PNG with a tRNS chunk (stb adds an alpha channel) from Pillow") {
    Image img = decode_image(from_hex(kGrayTransparentPng), "trns.png");
    CHECK(img.pixels.to_vector() == std::vector<double>{0, 10, 20, 30});
  }
  SUBCASE("a 2-bit palette PNG from Pillow") {
    Image img = decode_image(from_hex(kPalettePng), "palette.png");
    CHECK(img.bit_depth == 8);
    CHECK(img.pixels.to_vector() == std::vector<double>{76, 150, 131, 141});  // Pillow's convert("L")
  }
}

TEST_CASE("image: JPEG decodes close to Pillow's libjpeg") {
  Image img = decode_image(from_hex(kGrayJpeg), "gray.jpg");
  CHECK(img.bit_depth == 8);
  CHECK(img.channels == 1);
  REQUIRE(img.pixels.shape() == Shape{8, 16});
  // stb_image's IDCT is not libjpeg's: allow one grey level.
  Tensor pillow = from_vector(kGrayJpegPillow, {8, 16});
  double diff = max_abs_diff(img.pixels, pillow);
  MESSAGE("max |stb - Pillow| on the gray JPEG: ", diff);
  CHECK(diff <= 1.0);
}

TEST_CASE("image: color progressive JPEG decodes close to Pillow") {
  Image img = decode_image(from_hex(kColorProgressiveJpeg), "color.jpg");
  CHECK(img.bit_depth == 8);
  CHECK(img.channels == 3);
  REQUIRE(img.pixels.shape() == Shape{8, 16});
  // Chroma upsampling and color conversion differ between stb_image and libjpeg.
  double diff = max_abs_diff(img.pixels, from_vector(kColorJpegPillowL, {8, 16}));
  MESSAGE("max |stb - Pillow| on the color progressive JPEG (after RGB -> L): ", diff);
  CHECK(diff <= 2.0);
}

TEST_CASE("image: broken files throw cxr::Error naming the file and the problem") {
  const std::string dir = temp_path("corpus");
  std::filesystem::create_directories(dir);
  auto file = [&](const std::string& name, const std::string& bytes) {
    std::string p = dir + "/" + name;
    write_bytes(p, bytes);
    return p;
  };
  CHECK(contains(error_of([&] { load_image(dir + "/missing.png"); }), "missing.png: cannot read image: no such file"));
  CHECK(contains(error_of([&] { load_image(dir); }), "is a directory"));
  CHECK(contains(error_of([&] { load_image(file("empty.png", "")); }), "empty.png: cannot read image: the file is empty"));
  CHECK(contains(error_of([&] { load_image(file("text.png", "hello, not an image\n")); }), "text.png: not a readable PNG or JPEG"));
  CHECK(contains(error_of([&] { load_image(file("bmp.bmp", "BM" + std::string(60, '\0'))); }), "not a readable PNG or JPEG"));

  const std::string png = encode_png(random_image({9, 6}, 65535, 5), 16);
  const std::string jpeg = from_hex(kGrayJpeg), progressive = from_hex(kColorProgressiveJpeg);
  SUBCASE("truncated at every length") {
    for (const auto& [name, bytes] : {std::pair{"cut.png", png}, std::pair{"cut.jpg", jpeg}, std::pair{"cut_progressive.jpg", progressive}}) {
      for (size_t n = 1; n < bytes.size(); ++n) {
        INFO(std::string(name), " cut to ", n, " of ", bytes.size(), " bytes");
        std::string msg = error_of([&] { decode_image(bytes.substr(0, n), name); });
        CHECK(contains(msg, name));
      }
    }
  }
  SUBCASE("dimensions above the limit are refused from the header, before decoding") {
    // A valid PNG whose IHDR claims a width of 100000 (then the IHDR CRC is fixed up).
    std::string bomb = png;
    bomb[16] = 0, bomb[17] = 0x01, bomb[18] = char(0x86), bomb[19] = char(0xA0);
    uint32_t crc = png_crc(bomb.substr(12, 17));  // type + 13 data bytes
    for (int k = 0; k < 4; ++k) bomb[29 + k] = static_cast<char>(crc >> (24 - 8 * k));
    CHECK(contains(error_of([&] { decode_image(bomb, "bomb.png"); }),
                   "bomb.png: image dimensions 100000x9 (width x height) exceed the limit of 16384"));
    // The limit is configurable.
    CHECK(contains(error_of([&] { decode_image(png, "small.png", {.max_dimension = 8}); }), "6x9 (width x height) exceed the limit of 8"));
    CHECK(decode_image(png, "small.png", {.max_dimension = 9}).pixels.shape() == Shape{9, 6});
  }
  SUBCASE("corrupted bytes: an error or an image of the header's size, never a crash") {
    // Every byte of a PNG is covered by the signature, a length or a CRC-32: each change is an
    // error. JPEG has no checksum: a changed coefficient byte decodes to other pixels.
    for (const auto& [name, bytes] :
         {std::pair{"flip.png", png}, std::pair{"flip.jpg", jpeg}, std::pair{"flip_progressive.jpg", progressive}}) {
      int errors = 0, decoded = 0;
      for (size_t i = 0; i < bytes.size(); ++i) {
        for (int mode = 0; mode < 3; ++mode) {  // set to 0x00, set to 0xFF, xor 0x5A
          std::string b = bytes;
          const auto old = static_cast<unsigned char>(b[i]);
          const unsigned char v = mode == 0 ? 0x00 : mode == 1 ? 0xFF : old ^ 0x5A;
          if (v == old) continue;
          b[i] = static_cast<char>(v);
          try {
            Image img = decode_image(b, name);
            CHECK(img.pixels.numel() > 0);
            ++decoded;
          } catch (const Error& e) {
            CHECK(contains(e.what(), name));
            ++errors;
          }
        }
      }
      MESSAGE(std::string(name), ": ", errors, " corrupted versions refused, ", decoded, " decoded");
      CHECK(errors > 0);
      if (std::string(name) == "flip.png") CHECK(decoded == 0);
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("image: write_png errors") {
  CHECK(contains(error_of([] { encode_png(full({2, 2}, 256), 8); }), "outside [0, 255]"));
  CHECK(contains(error_of([] { encode_png(full({2, 2}, -1), 16); }), "outside [0, 65535]"));
  CHECK(contains(error_of([] { encode_png(zeros({2, 2}), 12); }), "bit_depth must be 8 or 16"));
  CHECK(contains(error_of([] { encode_png(zeros({2, 2, 5}), 8); }), "1 to 4 channels"));
  CHECK(contains(error_of([] { write_png("/nonexistent-dir/x.png", zeros({2, 2}), 8); }), "/nonexistent-dir/x.png"));
}

TEST_CASE("image: center crop offsets follow torchvision (round half to even, zero padding)") {
  CHECK(center_crop_start(307, 256) == 26);  // 25.5 -> 26 (the mimic-examples images)
  CHECK(center_crop_start(256, 256) == 0);
  CHECK(center_crop_start(300, 256) == 22);
  CHECK(center_crop_start(301, 256) == 22);  // 22.5 -> 22
  CHECK(center_crop_start(303, 256) == 24);  // 23.5 -> 24
  CHECK(center_crop_start(7, 4) == 2);       // 1.5 -> 2
  CHECK(center_crop_start(5, 4) == 0);       // 0.5 -> 0
  CHECK(center_crop_start(200, 256) == -28);  // padded 28 before, 28 after
  CHECK(center_crop_start(201, 256) == -27);  // padded 27 before, 28 after

  Tensor x = arange(35).reshape({7, 5});
  // 7 -> 4: top 2 (1.5 -> 2); 5 -> 2: left 2 (1.5 -> 2)
  CHECK(center_crop(x, 4, 2).to_vector() == std::vector<double>{12, 13, 17, 18, 22, 23, 27, 28});
  // Padding: a 2x3 image in a 4x6 crop sits at rows 1..2, columns 1..3 (torchvision pads
  // (crop - size) // 2 before, the rest after).
  Tensor small = tensor({1, 2, 3, 4, 5, 6}).reshape({2, 3});
  CHECK(center_crop(small, 4, 6).to_vector() ==
        std::vector<double>{0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0});
  // Mixed: height cropped (2 -> 1: top 0 (0.5 -> 0)), width padded (3 -> 4: 0 before, 1 after).
  CHECK(center_crop(small, 1, 4).to_vector() == std::vector<double>{1, 2, 3, 0});
  // Leading dims are kept; the result is a new contiguous tensor.
  Tensor batch = arange(2 * 7 * 5).reshape({2, 7, 5});
  Tensor c = center_crop(batch, 3, 3);
  CHECK(c.shape() == Shape{2, 3, 3});
  CHECK(c.is_contiguous());
  CHECK(c.at({1, 0, 0}) == 35 + 2 * 5 + 1);
  CHECK(contains(error_of([&] { center_crop(x, 0, 3); }), "center_crop"));
  CHECK(contains(error_of([&] { center_crop(arange(3), 1, 1); }), "center_crop"));
}

TEST_CASE("image: normalize_max divides by max(1e-3, max)") {
  Tensor x = tensor({0, 1000, 65535, 32768});
  Tensor n = normalize_max(x);
  CHECK(n.dtype() == DType::Float32);
  CHECK(n.at({2}) == 1.0);
  CHECK(n.at({1}) == doctest::Approx(1000.0 / 65535).epsilon(1e-7));
  CHECK(n.at({1}) == static_cast<double>(1000.0f / 65535.0f));  // one float32 division, as PyTorch
  CHECK(normalize_max(zeros({2, 2})).to_vector() == std::vector<double>{0, 0, 0, 0});
  Tensor tiny = normalize_max(tensor({0.0005, 0.0}));
  CHECK(tiny.at({0}) == doctest::Approx(0.5));
  CHECK(contains(error_of([] { normalize_max(zeros({2}, {.dtype = DType::Int64})); }), "floating"));
}

TEST_CASE("image: a mimic-examples image loads as 16-bit 307x256") {
  const std::string dir = source_path("../shared/data/mimic-examples/images");
  if (!std::filesystem::is_directory(dir)) return skip_test(dir + " is absent");
  std::string first;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".png" && (first.empty() || e.path().string() < first)) first = e.path().string();
  REQUIRE(!first.empty());
  Image img = load_image(first);
  CHECK(img.bit_depth == 16);
  CHECK(img.channels == 1);
  CHECK(img.pixels.shape() == Shape{307, 256});
  std::vector<double> v = img.pixels.to_vector();
  CHECK(*std::max_element(v.begin(), v.end()) == 65535);  // the reference scales to 65535 * img / max
}
