// montage.cpp — see montage.h. The font: 5x7 glyphs, 7 strings of 5 columns each.
#include "data/montage.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "tensor/error.h"

namespace cxr::data {

namespace {

using Glyph = std::array<const char*, 7>;  // 7 rows of 5 columns, '#' = ink

const std::map<char, Glyph>& font() {
  static const std::map<char, Glyph> glyphs = {
      {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
      {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
      {'C', {".####", "#....", "#....", "#....", "#....", "#....", ".####"}},
      {'D', {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."}},
      {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
      {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
      {'G', {".####", "#....", "#....", "#..##", "#...#", "#...#", ".###."}},
      {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
      {'I', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "#####"}},
      {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
      {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
      {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
      {'M', {"#...#", "##.##", "#.#.#", "#...#", "#...#", "#...#", "#...#"}},
      {'N', {"#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "#...#"}},
      {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
      {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
      {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
      {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
      {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
      {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
      {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
      {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
      {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
      {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
      {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."}},
      {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
      {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
      {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
      {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
      {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
      {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
      {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
      {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
      {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
      {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
      {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
      {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
      {':', {".....", "..#..", "..#..", ".....", "..#..", "..#..", "....."}},
      {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
      {'/', {"....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."}},
      {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
      {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
      {',', {".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."}},
      {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
      {'=', {".....", ".....", "#####", ".....", "#####", ".....", "....."}},
      {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
  };
  return glyphs;
}

}  // namespace

void draw_text(Tensor& img, const std::string& text, int64_t x, int64_t y, int64_t scale, float value) {
  CXR_CHECK(img.dim() == 2 && img.dtype() == DType::Float32 && img.is_contiguous(),
            "draw_text: expected a contiguous (H, W) float32 image, got ", shape_str(img.shape()));
  const int64_t H = img.size(0), W = img.size(1);
  float* p = img.data<float>();
  int64_t cx = x;
  for (char ch : text) {
    auto it = font().find(char(std::toupper(static_cast<unsigned char>(ch))));
    if (it != font().end()) {
      const Glyph& g = it->second;
      for (int r = 0; r < 7; ++r)
        for (int c = 0; c < 5; ++c) {
          if (g[size_t(r)][c] != '#') continue;
          for (int64_t dy = 0; dy < scale; ++dy)
            for (int64_t dx = 0; dx < scale; ++dx) {
              int64_t yy = y + r * scale + dy, xx = cx + c * scale + dx;
              if (yy >= 0 && yy < H && xx >= 0 && xx < W) p[yy * W + xx] = value;
            }
        }
    }
    cx += 6 * scale;
  }
}

Tensor make_montage(const std::vector<MontageRow>& rows, int64_t tile, int64_t gap, int64_t caption_width,
                    int64_t text_scale) {
  CXR_CHECK(!rows.empty() && tile > 0 && gap >= 0 && caption_width >= 0, "make_montage: invalid layout");
  size_t cols = 0;
  for (const auto& r : rows) cols = std::max(cols, r.images.size());
  const int64_t H = int64_t(rows.size()) * (tile + gap) + gap;
  const int64_t W = caption_width + int64_t(cols) * (tile + gap) + gap;
  Tensor out = zeros({H, W});
  float* o = out.data<float>();
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t y0 = gap + int64_t(r) * (tile + gap);
    // Caption: words stacked on lines so that they fit the caption column.
    std::vector<std::string> lines;
    std::string word, line;
    const size_t per_line = size_t(std::max<int64_t>(1, (caption_width - 8) / (6 * text_scale)));
    for (size_t i = 0; i <= rows[r].caption.size(); ++i) {
      char ch = i < rows[r].caption.size() ? rows[r].caption[i] : ' ';
      if (ch != ' ') {
        word += ch;
        continue;
      }
      if (word.empty()) continue;
      if (!line.empty() && line.size() + 1 + word.size() > per_line) lines.push_back(line), line.clear();
      line += (line.empty() ? "" : " ") + word;
      word.clear();
    }
    if (!line.empty()) lines.push_back(line);
    const int64_t lh = 9 * text_scale;
    int64_t ty = y0 + tile / 2 - int64_t(lines.size()) * lh / 2;
    for (const auto& l : lines) draw_text(out, l, 6, ty, text_scale), ty += lh;
    for (size_t c = 0; c < rows[r].images.size(); ++c) {
      const Tensor img = rows[r].images[c].to(DType::Float32).contiguous();
      CXR_CHECK(img.dim() == 2, "make_montage: expected (h, w) images, got ", shape_str(img.shape()));
      const int64_t h = img.size(0), w = img.size(1), x0 = caption_width + gap + int64_t(c) * (tile + gap);
      const float* s = img.data<float>();
      for (int64_t i = 0; i < tile; ++i)
        for (int64_t j = 0; j < tile; ++j) {
          const int64_t si = std::min(h - 1, i * h / tile), sj = std::min(w - 1, j * w / tile);
          o[(y0 + i) * W + x0 + j] = std::clamp(s[si * w + sj], 0.0f, 1.0f);
        }
    }
  }
  return out;
}

}  // namespace cxr::data
