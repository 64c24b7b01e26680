// montage.h — contact sheets: a grid of grayscale images (H, W) with a caption per row, drawn with
// a built-in 5x7 bitmap font (upper-case letters, digits, a little punctuation). Used for
// docs/phantoms.png (`cxr phantom --contact-sheet`). Values in, values out: the caller scales.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cxr::data {

struct MontageRow {
  std::string caption;         // drawn left of the row (upper-cased; unknown characters are blank)
  std::vector<Tensor> images;  // each (h, w), values in [0, 1]; resized by nearest to the tile size
};

// A (H, W) float32 image in [0, 1]: rows of tiles of tile x tile pixels separated by `gap`, on a
// black background, captions in white in a left column of caption_width pixels.
Tensor make_montage(const std::vector<MontageRow>& rows, int64_t tile, int64_t gap = 4, int64_t caption_width = 120,
                    int64_t text_scale = 2);

// Draws text into img (H, W) (float, [0, 1]) at pixel (x, y) (top left), each font pixel a
// scale x scale square of `value`.
void draw_text(Tensor& img, const std::string& text, int64_t x, int64_t y, int64_t scale, float value = 1.0f);

}  // namespace cxr::data
