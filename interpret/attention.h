// attention.h — which words of a report the text encoder looks at: BERT's attention from the [CLS]
// query (METHODS.md §7, "Text attention for interpretation": the paper's word highlighting most
// likely uses the last layer's attention from [CLS]), merged from word pieces into words, and an
// HTML rendering of the report with the words highlighted. Attention is not attribution: see
// docs/INTERPRETATION.md.
//   report -> BertTokenizer features [CLS] pieces[:max_seq_length-2] [SEP] (not padded: padded keys
//   get exactly zero attention anyway) -> BertModel (eval mode) -> attentions[layer] (1, heads, L, L)
//   -> row 0 ([CLS] as the query) averaged over heads -> (L)
//   -> [CLS] and [SEP] dropped; each word's pieces summed into the word; renormalized to sum 1.
// "Words" are BERT's basic tokens (whitespace and punctuation split, lower-cased and accent-stripped
// as the tokenizer does), each with its byte span in the original text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nn/models/bert.h"
#include "text/wordpiece.h"

namespace cxr::interpret {

struct TokenWeights {
  std::string text;                              // the report as given (valid UTF-8)
  std::vector<std::string> words;                // basic tokens, in order
  std::vector<double> weights;                   // per word; sum 1 over the words the model saw
  std::vector<std::pair<size_t, size_t>> spans;  // per word: [begin, end) byte offsets in `text`
  std::vector<int64_t> num_pieces;               // per word: word pieces that entered the model
                                                 // (0: cut by max_seq_length; then weight 0)
  int64_t layer = -1;                            // the encoder layer used, 0-based
};

// The [CLS] row of layer `layer`'s attention (0-based; negative counts from the end, -1 = the last
// layer), averaged over heads. The model runs in eval mode without autograd (its mode is restored).
// A report with no words gives empty vectors. Errors: invalid UTF-8 in the report, a layer out of
// range, max_seq_length < 2 or a sequence longer than the model's max_position_embeddings.
TokenWeights cls_attention(nn::BertModel& bert, const text::BertTokenizer& tokenizer, const std::string& report,
                           int64_t max_seq_length = 320, int layer = -1);

// A self-contained HTML fragment (<div class="cxr-attention">, inline styles only): the optional
// title as <h3>, then the original text with every word a <span> whose background is orange at
// opacity weight / max(weight) and whose title attribute holds the weight; the text between words is
// kept as is (white-space: pre-wrap). Everything is HTML-escaped; invalid UTF-8 bytes become U+FFFD.
// Without spans (none given), the words are shown separated by spaces. Errors: as many weights (and
// spans, if any) as words; each span non-empty and inside the text.
std::string highlighted_report_html(const TokenWeights& w, const std::string& title = "");

// &, <, >, " and ' escaped; invalid UTF-8 sequences replaced by U+FFFD (one per bad byte) and NUL
// by U+FFFD, so the result is always valid UTF-8.
std::string html_escape(std::string_view text);

// BERT's basic tokenizer (text::basic_tokenize) with the byte span of every token in `text`: the
// tokens are exactly basic_tokenize(text, options); a token's span runs from its first to its last
// source character (characters removed by cleaning or accent stripping inside it included).
struct SpannedToken {
  std::string token;
  size_t begin = 0, end = 0;
};
std::vector<SpannedToken> basic_tokenize_with_spans(std::string_view text,
                                                    const text::BasicTokenizerOptions& options = {});

}  // namespace cxr::interpret
