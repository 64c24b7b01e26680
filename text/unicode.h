// unicode.h — the Unicode pieces the BERT basic tokenizer needs, matching Python's str and
// unicodedata (the reference tokenizer is Python): UTF-8 <-> code points, the character classes of
// BERT's tokenization.py, str.lower() and "NFD, then drop nonspacing marks" (accent stripping).
// Tables are generated from Python's unicodedata by tools/gen_unicode_tables.py (unicode_tables.inc).
#pragma once

#include <string>
#include <string_view>

namespace cxr::text {

// The Unicode version of the generated tables (Python's unicodedata.unidata_version).
const char* unicode_version();

// Strict UTF-8 decoding; invalid input throws cxr::Error naming `what` and the byte offset.
std::u32string utf8_decode(std::string_view bytes, const char* what = "utf8_decode");
std::string utf8_encode(std::u32string_view text);
void utf8_append(std::string& out, char32_t cp);

// BERT's classes (tokenization.py): whitespace = ' ', \t, \n, \r or category Zs; control = category
// Cc or Cf except \t, \n, \r; punctuation = ASCII !-/ :-@ [-` {-~ or any category P*;
// chinese = the CJK Unified Ideograph blocks BERT lists.
bool is_bert_whitespace(char32_t cp);
bool is_bert_control(char32_t cp);
bool is_bert_punctuation(char32_t cp);
bool is_cjk_ideograph(char32_t cp);
// Python's str.isspace() for the characters that can remain after BERT's text cleaning: ' ',
// U+2028 and U+2029 (so splitting matches Python's str.split()).
bool is_python_split_space(char32_t cp);
bool is_nonspacing_mark(char32_t cp);  // category Mn

// Python's str.lower(), per character (one-to-one except U+0130 -> "i\u0307"). Not implemented:
// the context-dependent final sigma (a capital sigma ending a word lowers to U+03C2 in Python).
std::u32string unicode_lower(std::u32string_view text);
// unicodedata.normalize("NFD", text) with category-Mn characters removed (BERT's
// _run_strip_accents). The canonical reordering of NFD is not applied: it only permutes combining
// marks, which are removed here, except 25 spacing marks (Mc) with a combining class.
std::u32string strip_accents(std::u32string_view text);

}  // namespace cxr::text
