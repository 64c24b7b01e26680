// image.cpp — see image.h. stb_image decodes (PNG and JPEG only, compiled here with static
// linkage); stb_image_write encodes 8-bit PNGs and compresses the 16-bit ones, whose chunks
// (signature, IHDR, IDAT, IEND, each with its CRC-32) are written here because stb_image_write has
// no 16-bit PNG writer.
#include "data/image.h"
#include "tensor/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "ops/ops.h"

// The stb implementations. /usr/include is a system include directory, so stb's own warnings
// stay silent while our -Wall -Wextra applies to everything else.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO  // we read files ourselves (clear errors, no FILE* handling in stb)
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

namespace cxr::data {

namespace {

bool is_jpeg(const unsigned char* p, size_t n) { return n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF; }

// The JPEG container, checked before stb_image sees the file, for three reasons:
// - stb_image's JPEG decoder pads a truncated entropy-coded segment with zeros and "succeeds", so
//   a cut-off file would decode to an image; here every segment must be complete and an end-of-
//   image marker (FF D9) must follow the scans.
// - stb_image 2.27 (Debian's libstb) trusts a Huffman table's code counts: counts summing to more
//   than 256 overflow its 257-entry size table (found by this repo's corrupted-byte test under
//   UBSan). Every DHT segment is validated here: class 0/1, id 0..3, at most 256 codes, values
//   inside the segment.
// Markers: FF xx; SOI (D8), TEM (01) and RSTn (D0..D7) stand alone, the others carry a 16-bit
// big-endian length that counts itself. After an SOS (DA) segment comes entropy-coded data, in
// which FF is always followed by 00 (a stuffed FF) or a restart marker, so the next FF xx with
// any other xx is the next marker.
// - A scan must use only Huffman tables defined before it: stb_image decodes with whatever an
//   undefined table's memory holds and indexes out of bounds (found by
//   tests/fuzz/fuzz_image_decode.cpp under UBSan). A sequential scan needs the DC and AC tables of
//   each of its components, a progressive one the DC tables (first band, Ss = 0) or the AC tables.
void check_jpeg_segments(const unsigned char* p, size_t n, const std::string& name) {
  auto truncated = [&] { fail(name, ": truncated JPEG (the file ends before the end-of-image marker)"); };
  bool defined[2][4] = {};  // [class: 0 DC, 1 AC][table id]
  bool progressive = false;
  size_t i = 2;  // after SOI
  for (;;) {
    if (i + 2 > n) truncated();
    if (p[i] != 0xFF) fail(name, ": corrupt JPEG (no marker at byte ", i, ")");
    const unsigned char m = p[i + 1];
    if (m == 0xFF) { ++i; continue; }  // fill byte
    if (m == 0xD9) return;             // EOI
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
    if (i + 4 > n) truncated();
    const size_t len = size_t(p[i + 2]) << 8 | p[i + 3];
    if (len < 2) fail(name, ": corrupt JPEG (segment length ", len, " at byte ", i, ")");
    if (i + 2 + len > n) truncated();
    if (m == 0xC4) {  // DHT: one or more tables of (class/id byte, 16 counts, sum(counts) values)
      size_t k = i + 4, end = i + 2 + len;
      while (k < end) {
        if (end - k < 17 || (p[k] >> 4) > 1 || (p[k] & 15) > 3) fail(name, ": corrupt JPEG (invalid Huffman table header)");
        size_t codes = 0;
        for (int c = 1; c <= 16; ++c) codes += p[k + c];
        if (codes > 256 || end - k - 17 < codes) fail(name, ": corrupt JPEG (invalid Huffman table: ", codes, " codes)");
        defined[p[k] >> 4][p[k] & 15] = true;
        k += 17 + codes;
      }
    }
    if (m == 0xC2) progressive = true;
    if (m == 0xDA) {  // SOS: Ns, Ns x (component, DC table << 4 | AC table), Ss, Se, Ah/Al
      const size_t ns = len >= 3 ? p[i + 4] : 0;
      if (ns == 0 || len < 6 + 2 * ns) fail(name, ": corrupt JPEG (invalid scan header at byte ", i, ")");
      const bool dc = !progressive || p[i + 5 + 2 * ns] == 0, ac = !progressive || p[i + 5 + 2 * ns] != 0;
      for (size_t c = 0; c < ns; ++c) {
        const unsigned tables = p[i + 6 + 2 * c];
        if ((dc && ((tables >> 4) > 3 || !defined[0][tables >> 4])) || (ac && ((tables & 15) > 3 || !defined[1][tables & 15])))
          fail(name, ": corrupt JPEG (a scan uses an undefined Huffman table)");
      }
    }
    i += 2 + len;
    if (m == 0xDA) {  // skip the entropy-coded data
      while (i + 1 < n && !(p[i] == 0xFF && p[i + 1] != 0x00 && !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7))) ++i;
      if (i + 1 >= n) truncated();
    }
  }
}

bool is_png(const unsigned char* p, size_t n) { return n >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0; }

uint32_t crc32(const unsigned char* data, size_t n, uint32_t crc = 0xFFFFFFFFu);

uint32_t get_u32be(const unsigned char* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// stb_image neither checks CRCs nor needs the end of the file (it stops at IEND's type), so the
// chunk structure is checked here, as libpng does: every chunk complete, the CRC-32 of critical
// chunks (IHDR, PLTE, IDAT, IEND) correct (ancillary chunks with bad CRCs are tolerated), and an
// IEND chunk. Bytes after IEND are ignored.
// One more: an empty IDAT before any image data is refused, because stb_image then copies zero
// bytes into its not yet allocated buffer (memcpy from NULL: undefined behaviour, found by
// tests/fuzz/fuzz_image_png.cpp under UBSan). Encoders do not write such a chunk.
void check_png_chunks(const unsigned char* p, size_t n, const std::string& name) {
  size_t i = 8;
  bool image_data = false;
  for (;;) {
    if (n - i < 12) fail(name, ": truncated PNG (the file ends before the IEND chunk)");
    const uint32_t len = get_u32be(p + i);
    std::string type(reinterpret_cast<const char*>(p + i + 4), 4);
    for (char& ch : type)
      if (!std::isalpha(static_cast<unsigned char>(ch))) ch = '?';
    if (len > n - i - 12) fail(name, ": truncated PNG (chunk ", type, " of ", len, " bytes runs past the end of the file)");
    const bool critical = (p[i + 4] & 0x20) == 0;
    if (critical && (crc32(p + i + 4, size_t(len) + 4) ^ 0xFFFFFFFFu) != get_u32be(p + i + 8 + len))
      fail(name, ": corrupt PNG (CRC mismatch in chunk ", type, ")");
    if (type == "IEND") return;
    if (type == "IDAT") {
      if (len == 0 && !image_data) fail(name, ": unsupported PNG (an empty IDAT chunk before the image data)");
      image_data = true;
    }
    i += 12 + size_t(len);
  }
}

// Pillow's RGB -> L (Convert.c, L24): the ITU-R 601-2 luma weights in 16.16 fixed point, rounded.
inline uint32_t luminance(uint32_t r, uint32_t g, uint32_t b) {
  return static_cast<uint32_t>((uint64_t(r) * 19595 + uint64_t(g) * 38470 + uint64_t(b) * 7471 + 0x8000) >> 16);
}

template <typename Sample>
void to_luminance(const Sample* src, int channels, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) {
    const Sample* px = src + i * channels;
    out[i] = channels <= 2 ? float(px[0]) : float(luminance(px[0], px[1], px[2]));
  }
}

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// PNG CRC-32 (ISO 3309, polynomial 0xEDB88320), as in the PNG specification's sample code.
uint32_t crc32(const unsigned char* data, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t k = 0; k < 256; ++k) {
      uint32_t c = k;
      for (int j = 0; j < 8; ++j) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[k] = c;
    }
    return t;
  }();
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

void put_u32be(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xFF));
}

void put_chunk(std::string& out, const char type[4], const std::string& payload) {
  put_u32be(out, static_cast<uint32_t>(payload.size()));
  std::string body(type, 4);
  body += payload;
  out += body;
  put_u32be(out, crc32(reinterpret_cast<const unsigned char*>(body.data()), body.size()) ^ 0xFFFFFFFFu);
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

uint32_t png_crc32(const unsigned char* data, size_t n) { return crc32(data, n) ^ 0xFFFFFFFFu; }

Image decode_image(const std::string& bytes, const std::string& name, const ImageLoadOptions& options) {
  if (bytes.empty()) fail(name, ": cannot read image: the file is empty");
  if (bytes.size() > size_t(INT_MAX)) fail(name, ": cannot read image: file of ", bytes.size(), " bytes is too large");
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const int len = static_cast<int>(bytes.size());

  // 1. The container and the header only: format, dimensions, channels, bit depth. Only a file
  // that starts with a PNG signature or a JPEG SOI marker reaches stb_image (which would also
  // take a JPEG after fill bytes, FF FF D8, past our segment checks: found by
  // tests/fuzz/fuzz_image_decode.cpp; PIL refuses such a file too).
  const bool png = is_png(data, bytes.size()), jpeg = is_jpeg(data, bytes.size());
  if (!png && !jpeg) fail(name, ": not a readable PNG or JPEG image (neither signature at the start of the file)");
  if (png) check_png_chunks(data, bytes.size(), name);
  if (jpeg) check_jpeg_segments(data, bytes.size(), name);
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, len, &width, &height, &channels))
    fail(name, ": not a readable PNG or JPEG image (", stbi_failure_reason(), ")");
  if (width <= 0 || height <= 0) fail(name, ": image has invalid dimensions ", width, "x", height);
  if (width > options.max_dimension || height > options.max_dimension)
    fail(name, ": image dimensions ", width, "x", height, " (width x height) exceed the limit of ",
         options.max_dimension, " pixels per side");
  if (channels < 1 || channels > 4) fail(name, ": unsupported number of channels ", channels);
  const bool sixteen = stbi_is_16_bit_from_memory(data, len) != 0;

  // 2. Decode with the file's own channels (stb's own gray conversion differs from PIL's).
  int w = 0, h = 0, c = 0;
  Image image;
  image.bit_depth = sixteen ? 16 : 8;
  std::unique_ptr<void, StbFree> pixels(sixteen ? static_cast<void*>(stbi_load_16_from_memory(data, len, &w, &h, &c, 0))
                                                : static_cast<void*>(stbi_load_from_memory(data, len, &w, &h, &c, 0)));
  if (!pixels) fail(name, ": corrupt or truncated image (", stbi_failure_reason(), ")");
  // The channels may differ from stbi_info's: a tRNS chunk in a gray or RGB PNG adds an alpha channel.
  if (w != width || h != height || c < 1 || c > 4)
    fail(name, ": decoder returned ", w, "x", h, "x", c, " but the header says ", width, "x", height, "x", channels);
  image.channels = c;

  // 3. To luminance, float32 (exact: every value <= 65535 is a float32 integer).
  image.pixels = empty({height, width});
  const int64_t count = int64_t(width) * height;
  if (sixteen) {
    to_luminance(static_cast<const uint16_t*>(pixels.get()), c, count, image.pixels.data<float>());
  } else {
    to_luminance(static_cast<const uint8_t*>(pixels.get()), c, count, image.pixels.data<float>());
  }
  return image;
}

Image load_image(const std::string& path, const ImageLoadOptions& options) {
  return decode_image(read_file(path, "image"), path, options);
}

std::string encode_png(const Tensor& pixels, int bit_depth) {
  CXR_CHECK(bit_depth == 8 || bit_depth == 16, "encode_png: bit_depth must be 8 or 16, got ", bit_depth);
  CXR_CHECK((pixels.dim() == 2 || pixels.dim() == 3) && pixels.numel() > 0,
            "encode_png: expected a non-empty (H, W) or (H, W, C) image, got ", shape_str(pixels.shape()));
  const int64_t channels = pixels.dim() == 3 ? pixels.size(2) : 1;
  CXR_CHECK(channels >= 1 && channels <= 4, "encode_png: expected 1 to 4 channels, got ", shape_str(pixels.shape()));
  CXR_CHECK(pixels.size(0) <= (1 << 24) && pixels.size(1) <= (1 << 24) &&
                pixels.size(0) * pixels.size(1) * channels * 2 < int64_t(INT_MAX) - 2 * pixels.size(0),
            "encode_png: image ", shape_str(pixels.shape()), " is too large");
  const int height = static_cast<int>(pixels.size(0)), width = static_cast<int>(pixels.size(1));
  const int comp = static_cast<int>(channels);
  const double top = bit_depth == 8 ? 255.0 : 65535.0;
  std::vector<double> values = pixels.to_vector();
  std::vector<uint16_t> samples(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    double v = std::nearbyint(values[i]);
    CXR_CHECK(v >= 0 && v <= top, "encode_png: sample ", i, " has value ", values[i], " outside [0, ", top,
              "] for a ", bit_depth, "-bit PNG");
    samples[i] = static_cast<uint16_t>(v);
  }
  std::string out;
  if (bit_depth == 8) {
    std::vector<unsigned char> bytes(samples.begin(), samples.end());
    CXR_CHECK(stbi_write_png_to_func(append_to_string, &out, width, height, comp, bytes.data(), width * comp),
              "encode_png: stb_image_write failed");
    return out;
  }
  // 16-bit: rows of (filter type 0, big-endian samples), zlib-compressed by stb_image_write.
  const size_t row = size_t(width) * comp;
  std::string raw;
  raw.reserve(size_t(height) * (1 + 2 * row));
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    for (size_t x = 0; x < row; ++x) {
      uint16_t v = samples[size_t(y) * row + x];
      raw.push_back(static_cast<char>(v >> 8));
      raw.push_back(static_cast<char>(v & 0xFF));
    }
  }
  int zlen = 0;
  std::unique_ptr<unsigned char, decltype(&std::free)> z(
      stbi_zlib_compress(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size()), &zlen, 8), &std::free);
  CXR_CHECK(z != nullptr, "encode_png: zlib compression failed");
  static const char kColorType[5] = {0, 0, 4, 2, 6};  // by channels: gray, gray+alpha, RGB, RGBA
  std::string ihdr;
  put_u32be(ihdr, static_cast<uint32_t>(width));
  put_u32be(ihdr, static_cast<uint32_t>(height));
  ihdr += std::string{char(16), kColorType[comp], char(0), char(0), char(0)};  // deflate, filter 0, no interlace
  out = "\x89PNG\r\n\x1a\n";
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", std::string(reinterpret_cast<const char*>(z.get()), static_cast<size_t>(zlen)));
  put_chunk(out, "IEND", "");
  return out;
}

void write_png(const std::string& path, const Tensor& pixels, int bit_depth) {
  std::string bytes;
  try {
    bytes = encode_png(pixels, bit_depth);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  write_file_atomic(path, bytes);
}

int64_t center_crop_start(int64_t size, int64_t crop) {
  CXR_CHECK(size >= 0 && crop > 0, "center_crop: invalid size ", size, " or crop ", crop);
  if (size < crop) return -((crop - size) / 2);
  // (size - crop) / 2.0 is an integer or k + 0.5; round half to even as Python's round().
  int64_t d = size - crop, k = d / 2;
  if (d % 2 == 0) return k;
  return k % 2 == 0 ? k : k + 1;
}

Tensor center_crop(const Tensor& x, int64_t height, int64_t width) {
  CXR_CHECK(x.dim() >= 2, "center_crop: expected (..., H, W), got ", shape_str(x.shape()));
  CXR_CHECK(height > 0 && width > 0, "center_crop: crop size must be positive, got ", height, "x", width);
  const int64_t H = x.size(-2), W = x.size(-1);
  Shape shape = x.shape();
  shape[shape.size() - 2] = height;
  shape[shape.size() - 1] = width;
  Tensor out = zeros(shape, {.dtype = x.dtype(), .device = x.device()});
  // The overlap of the crop window [start, start + crop) with the image [0, size), per axis.
  auto overlap = [](int64_t size, int64_t crop, int64_t& src, int64_t& dst, int64_t& n) {
    int64_t start = center_crop_start(size, crop);
    src = std::max<int64_t>(start, 0);
    dst = src - start;
    n = std::min(size, start + crop) - src;
  };
  int64_t sr, dr, nr, sc, dc, nc;
  overlap(H, height, sr, dr, nr);
  overlap(W, width, sc, dc, nc);
  if (nr > 0 && nc > 0) {
    Tensor src = x.detach().narrow(-2, sr, nr).narrow(-1, sc, nc);
    copy_(out.narrow(-2, dr, nr).narrow(-1, dc, nc), src);
  }
  return out;
}

Tensor normalize_max(const Tensor& x) {
  CXR_CHECK(is_floating(x.dtype()), "normalize_max: expected a floating tensor, got ", dtype_name(x.dtype()));
  CXR_CHECK(x.numel() > 0, "normalize_max: empty tensor ", shape_str(x.shape()));
  std::vector<double> values = x.to_vector();
  double m = *std::max_element(values.begin(), values.end());
  return x / std::max(1e-3, m);
}

}  // namespace cxr::data
