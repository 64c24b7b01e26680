// attention.cpp — see attention.h. The word spans come from a second pass of BERT's basic
// tokenizer that carries every character's byte offsets along; its tokens are checked against
// text::basic_tokenize, so the words are exactly the tokenizer's.
#include "interpret/attention.h"

#include <algorithm>
#include <cstdio>

#include "autograd/node.h"
#include "tensor/error.h"
#include "ops/ops.h"
#include "text/unicode.h"

namespace cxr::interpret {
namespace {

size_t utf8_length(char32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

// One character of a token being built, with the byte range of the source character it came from.
struct SourcedChar {
  char32_t cp;
  size_t begin, end;
};

// Splits one whitespace-delimited chunk as BERT does after cleaning: lower-case and strip accents
// (per character, which is what the whole-string versions do), then each punctuation character
// becomes its own token and the remaining runs are tokens (Python-space characters left by the
// cleaning also end a run).
void split_chunk(const std::vector<SourcedChar>& chunk, const text::BasicTokenizerOptions& options,
                 std::vector<SpannedToken>& out) {
  std::vector<SourcedChar> run;
  auto flush = [&] {
    if (run.empty()) return;
    std::u32string cps;
    for (const auto& c : run) cps.push_back(c.cp);
    out.push_back({text::utf8_encode(cps), run.front().begin, run.back().end});
    run.clear();
  };
  for (const SourcedChar& c : chunk) {
    std::u32string mapped(1, c.cp);
    if (options.do_lower_case) mapped = text::strip_accents(text::unicode_lower(mapped));
    for (char32_t m : mapped) {
      if (text::is_python_split_space(m)) {
        flush();
      } else if (text::is_bert_punctuation(m)) {
        flush();
        run.push_back({m, c.begin, c.end});
        flush();
      } else {
        run.push_back({m, c.begin, c.end});
      }
    }
  }
  flush();
}

// The next UTF-8 sequence at s[i]: its code point and length, or length 0 if it is not valid
// (overlong, surrogate, above U+10FFFF, truncated or a stray continuation byte).
std::pair<char32_t, size_t> decode_one(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t n;
  char32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {0, 0};
  }
  if (i + n > s.size()) return {0, 0};
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, n};
}

std::string format_weight(double w) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", w);
  return buf;
}

}  // namespace

std::vector<SpannedToken> basic_tokenize_with_spans(std::string_view text, const text::BasicTokenizerOptions& options) {
  const std::u32string cps = text::utf8_decode(text, "basic_tokenize_with_spans");  // strict: offsets follow
  std::vector<SpannedToken> out;
  std::vector<SourcedChar> chunk;
  auto flush = [&] {
    split_chunk(chunk, options, out);
    chunk.clear();
  };
  size_t offset = 0;
  for (char32_t c : cps) {
    const size_t begin = offset;
    offset += utf8_length(c);
    // _clean_text: NUL, U+FFFD and control characters vanish (they do not split a word).
    if (c == 0 || c == 0xFFFD || text::is_bert_control(c)) continue;
    if (text::is_bert_whitespace(c) || text::is_python_split_space(c)) {
      flush();
    } else if (options.tokenize_chinese_chars && text::is_cjk_ideograph(c)) {
      flush();
      chunk.push_back({c, begin, offset});
      flush();
    } else {
      chunk.push_back({c, begin, offset});
    }
  }
  flush();
  // The words must be the tokenizer's own; a difference is a bug here, not bad input.
  const std::vector<std::string> reference = text::basic_tokenize(text, options);
  bool same = reference.size() == out.size();
  for (size_t i = 0; same && i < out.size(); ++i) same = reference[i] == out[i].token;
  CXR_CHECK(same, "basic_tokenize_with_spans: internal error: the spanned tokens differ from basic_tokenize's (",
            out.size(), " vs ", reference.size(), " tokens)");
  return out;
}

TokenWeights cls_attention(nn::BertModel& bert, const text::BertTokenizer& tokenizer, const std::string& report,
                           int64_t max_seq_length, int layer) {
  CXR_CHECK(max_seq_length >= 2, "cls_attention: max_seq_length must be at least 2, got ", max_seq_length);
  const auto num_layers = static_cast<int>(bert.config.num_hidden_layers);
  const int used_layer = layer < 0 ? num_layers + layer : layer;
  CXR_CHECK(used_layer >= 0 && used_layer < num_layers, "cls_attention: layer ", layer, " out of range (the model has ",
            num_layers, " layers: 0..", num_layers - 1, ", or -1..-", num_layers, " from the end)");
  // Strict UTF-8 first, with a message about the report rather than the tokenizer's internals.
  try {
    text::utf8_decode(report, "report");
  } catch (const Error& e) {
    fail("cls_attention: the report is not valid UTF-8: ", e.what());
  }

  TokenWeights result;
  result.text = report;
  result.layer = used_layer;
  const auto& options = tokenizer.options();
  std::vector<int64_t> ids;            // the word pieces of the whole report
  std::vector<size_t> pieces_of_word;  // how many pieces each word has
  for (SpannedToken& t : basic_tokenize_with_spans(report, options)) {
    const std::vector<std::string> pieces = text::wordpiece(t.token, tokenizer.vocab());
    for (const auto& p : pieces) ids.push_back(tokenizer.vocab().id(p));
    pieces_of_word.push_back(pieces.size());
    result.words.push_back(std::move(t.token));
    result.spans.emplace_back(t.begin, t.end);
  }
  const size_t num_words = result.words.size();
  result.weights.assign(num_words, 0.0);
  result.num_pieces.assign(num_words, 0);
  if (num_words == 0) return result;

  text::BertFeatures f = tokenizer.features_from_ids(ids, max_seq_length, /*pad=*/false);
  const auto length = static_cast<int64_t>(f.input_ids.size());
  CXR_CHECK(length <= bert.config.max_position_embeddings, "cls_attention: ", length,
            " tokens exceed the model's max_position_embeddings ", bert.config.max_position_embeddings,
            " (lower max_seq_length)");
  const Tensor input_ids =
      from_vector(std::vector<double>(f.input_ids.begin(), f.input_ids.end()), {1, length},
                  {.dtype = DType::Int64, .device = bert.device()});
  Tensor cls_row;  // (L): attention of [CLS] to every position, averaged over heads
  {
    nn::EvalModeScope eval_mode(bert);
    NoGradGuard no_grad;
    nn::BertForwardOutput out = bert.forward(input_ids, Tensor(), Tensor(), /*output_attentions=*/true);
    const Tensor& probs = out.attentions.at(static_cast<size_t>(used_layer));  // (1, heads, L, L)
    cls_row = mean(probs.select(0, 0).select(1, 0).to(DType::Float64), {0});
  }
  const std::vector<double> row = cls_row.to_vector();

  // Positions 1 .. length-2 hold the kept pieces, in word order; [CLS] (0) and [SEP] (last) are dropped.
  int64_t position = 1;
  const int64_t last_piece = length - 2;
  double total = 0;
  for (size_t w = 0; w < num_words && position <= last_piece; ++w) {
    for (size_t p = 0; p < pieces_of_word[w] && position <= last_piece; ++p, ++position) {
      result.weights[w] += row[static_cast<size_t>(position)];
      ++result.num_pieces[w];
    }
    total += result.weights[w];
  }
  if (total > 0)
    for (double& v : result.weights) v /= total;
  return result;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto [cp, n] = decode_one(text, i);
    if (n == 0 || cp == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for each bad byte, and for NUL
      i += n == 0 ? 1 : n;
      continue;
    }
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

std::string highlighted_report_html(const TokenWeights& w, const std::string& title) {
  CXR_CHECK(w.weights.size() == w.words.size(), "highlighted_report_html: ", w.words.size(), " words but ",
            w.weights.size(), " weights");
  CXR_CHECK(w.spans.empty() || w.spans.size() == w.words.size(), "highlighted_report_html: ", w.words.size(),
            " words but ", w.spans.size(), " spans");
  double peak = 0;
  for (double v : w.weights) peak = std::max(peak, v);
  auto span = [&](size_t i, std::string_view shown) {
    const double opacity = peak > 0 ? std::clamp(w.weights[i] / peak, 0.0, 1.0) : 0.0;
    return "<span title=\"" + html_escape(w.words[i]) + ": " + format_weight(w.weights[i]) +
           "\" style=\"background-color: rgba(255, 140, 0, " + format_weight(opacity) + "); border-radius: 2px\">" +
           html_escape(shown) + "</span>";
  };
  std::string html = "<div class=\"cxr-attention\" style=\"font-family: sans-serif; line-height: 1.6\">\n";
  if (!title.empty()) html += "<h3>" + html_escape(title) + "</h3>\n";
  html += "<div style=\"white-space: pre-wrap\">";
  if (w.spans.empty()) {
    for (size_t i = 0; i < w.words.size(); ++i) html += (i ? " " : "") + span(i, w.words[i]);
  } else {
    size_t cursor = 0;
    for (size_t i = 0; i < w.words.size(); ++i) {
      const auto [span_begin, end] = w.spans[i];
      CXR_CHECK(span_begin < end && end <= w.text.size(), "highlighted_report_html: span ", i, " [", span_begin, ", ",
                end, ") is empty or outside the text (", w.text.size(), " bytes)");
      // Spans from basic_tokenize_with_spans never overlap; should two words ever share source
      // characters, the later one shows only what is left of its span.
      const size_t begin = std::max(span_begin, cursor);
      if (begin >= end) continue;
      html += html_escape(std::string_view(w.text).substr(cursor, begin - cursor));
      html += span(i, std::string_view(w.text).substr(begin, end - begin));
      cursor = end;
    }
    html += html_escape(std::string_view(w.text).substr(cursor));
  }
  html += "</div>\n</div>\n";
  return html;
}

}  // namespace cxr::interpret
