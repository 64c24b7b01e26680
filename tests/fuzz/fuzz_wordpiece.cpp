// fuzz_wordpiece.cpp — fuzz harness for BERT's tokenizer (text/wordpiece.h): any bytes through
// basic_tokenize (invalid UTF-8 is a cxr::Error), WordPiece with a small vocabulary, and the model
// inputs (features). First byte: lower-casing and CJK splitting on/off, and the sequence length.
// Properties: ids in the vocabulary, [CLS] first, [SEP] after the kept pieces, mask = 1 exactly
// on them, zero padding.
#include "fuzz_common.h"
#include "text/wordpiece.h"

namespace {

cxr::text::Vocab small_vocab() {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "heart", "is", "normal",
                                     "no", "pleural", "effusion", "edema", "##s", "##ing", "##ed", ".", ",", "(", ")"};
  for (char c = 'a'; c <= 'z'; ++c) {
    tokens.push_back(std::string(1, c));
    tokens.push_back("##" + std::string(1, c));
  }
  for (char c = '0'; c <= '9'; ++c) tokens.push_back(std::string(1, c));
  tokens.push_back("\xc3\xa9");  // é (kept when not lower-casing)
  tokens.push_back("\xe4\xb8\xad");  // 中
  return cxr::text::Vocab(tokens);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  if (size == 0) return 0;
  static const text::BertTokenizer lower(small_vocab());
  static const text::BertTokenizer cased(small_vocab(), {.do_lower_case = false, .tokenize_chinese_chars = false});
  const text::BertTokenizer& tok = data[0] & 1 ? cased : lower;
  const int64_t max_len = 2 + (data[0] >> 1);  // 2..129
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  text::BertFeatures f;
  if (!fuzz::expect_errors([&] { f = tok.features(text, max_len); })) return 0;
  const int64_t n = tok.vocab().size();
  fuzz::require(int64_t(f.input_ids.size()) == max_len && f.attention_mask.size() == f.input_ids.size() &&
                    f.token_type_ids.size() == f.input_ids.size(),
                "features: padded to max_seq_length");
  const int64_t len = f.length();
  fuzz::require(len >= 2 && len <= max_len && f.input_ids[0] == tok.cls_id && f.input_ids[size_t(len - 1)] == tok.sep_id,
                "features: [CLS] ... [SEP]");
  for (int64_t i = 0; i < max_len; ++i) {
    const size_t k = size_t(i);
    fuzz::require(f.input_ids[k] >= 0 && f.input_ids[k] < n, "features: ids in the vocabulary");
    fuzz::require(f.attention_mask[k] == (i < len ? 1 : 0) && f.token_type_ids[k] == 0, "features: mask and segments");
    if (i >= len) fuzz::require(f.input_ids[k] == 0, "features: zero padding");
  }
  fuzz::require(f.truncated() == (f.num_wordpieces > max_len - 2), "features: truncation flag");
  return 0;
}
