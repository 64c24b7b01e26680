// negex.cpp — see negex.h. The reference compiles every trigger into \b(w1\s+w2...)\b and every
// phrase into \bw1\W+w2...\b with Python's `re` (IGNORECASE). We do not use std::regex for these:
//  * its ECMAScript \s and \w come from the C locale (no 0x1C-0x1F as whitespace, unlike Python),
//    and its case folding goes through the locale, so "exact on ASCII" would rest on the locale;
//  * libstdc++'s matcher recurses per character and overflows the stack on megabyte-long inputs,
//    and is slow (272 patterns per sentence);
//  * regex_replace interprets '$' in the replacement, re.sub interprets '\'.
// The two pattern shapes are simple enough to match directly: a trigger's \s+ always consumes the
// whole whitespace run (the next word cannot start with whitespace), and a phrase's \W+ is tried
// greedily with backtracking exactly as Python's matcher does, with failed (word, position) pairs
// remembered and a step budget for phrases whose words start with punctuation (see PhraseMatcher).
#include "text/negex.h"

#include <algorithm>
#include <unordered_set>

#include "tensor/error.h"
#include "tensor/file_io.h"
#include "text/chars.h"
#include "text/report.h"
#include "text/resources.h"

namespace cxr::text {

namespace {

constexpr std::string_view kRegexMeta = ".^$*+?{}[]\\|()";

// Python str.replace(old, new): every non-overlapping occurrence, left to right.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// re.sub(r'\s+', '_', s)
std::string join_whitespace_runs(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (is_space(s[i])) {
      while (i < s.size() && is_space(s[i])) ++i;
      out.push_back('_');
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// The match of \b(w1\s+w2...)\b at `pos`; returns its end or npos.
size_t match_trigger_at(std::string_view s, size_t pos, const std::vector<std::string>& words) {
  if (!is_word_boundary(s, pos)) return std::string_view::npos;
  size_t q = pos;
  for (size_t w = 0; w < words.size(); ++w) {
    if (w > 0) {
      if (q >= s.size() || !is_space(s[q])) return std::string_view::npos;
      while (q < s.size() && is_space(s[q])) ++q;
    }
    if (!equals_ci_at(s, q, words[w])) return std::string_view::npos;
    q += words[w].size();
  }
  return is_word_boundary(s, q) ? q : std::string_view::npos;
}

// The positions where a word starts (a word character after a non-word one or the beginning).
void find_word_starts(std::string_view s, std::vector<size_t>& out) {
  out.clear();
  for (size_t p = 0; p < s.size(); ++p)
    if (is_word(s[p]) && (p == 0 || !is_word(s[p - 1]))) out.push_back(p);
}

// re.sub(trigger_pattern, replacement, s): leftmost non-overlapping matches. Returns false (and
// leaves `out` alone) when nothing matched. A trigger starting with a word character can only
// match where \b holds before it, i.e. at a word start, so only `word_starts` are tried; other
// triggers are tried at every position.
bool substitute_trigger(std::string_view s, const std::vector<size_t>& word_starts, const NegexTrigger& t,
                        std::string& out) {
  const char first = to_lower(t.words.front().front());
  bool any = false;
  size_t copied = 0;
  auto try_at = [&](size_t p) {
    if (p < copied || to_lower(s[p]) != first) return;
    size_t e = match_trigger_at(s, p, t.words);
    if (e == std::string_view::npos) return;
    if (!any) {
      out.clear();
      any = true;
    }
    out.append(s.substr(copied, p - copied));
    out.append(t.replacement);
    copied = e;
  };
  if (is_word(first)) {
    for (size_t p : word_starts) try_at(p);
  } else {
    for (size_t p = 0; p < s.size(); ++p) try_at(p);
  }
  if (any) out.append(s.substr(copied));
  return any;
}

// Matches words[w..] at `pos` where words[w] must start exactly at pos (the \b before words[0] is
// checked by the caller). Returns the end of the match or npos.
//
// Cost: when every word after the first starts with a word character (every real keyword), \W+
// has a single candidate length and the search is linear. A word starting with punctuation lets
// \W+ stop anywhere in a run, and Python's matcher backtracks through every combination (on
// "a" + 100,000 dashes + "b" the pattern \ba\W+-\W+-\W+c\b would not finish). Failed (word,
// position) pairs are remembered, and a budget of kMaxSteps candidate positions per search bounds
// the rest: past it the phrase counts as not found. No real keyword comes near it.
constexpr size_t kMaxSteps = 1'000'000;

struct PhraseMatcher {
  std::string_view s;
  const std::vector<std::string>& words;
  std::unordered_set<uint64_t> failed;  // (word index, position) pairs known not to match
  size_t steps = 0;
  size_t run_from = 1, run_end = 0;  // a known non-word run: every q in [run_from, run_end] ends at run_end

  // The end of the run of non-word characters starting at q.
  size_t nonword_run_end(size_t q) {
    if (q >= run_from && q <= run_end) return run_end;
    size_t e = q;
    while (e < s.size() && !is_word(s[e])) ++e;
    run_from = q;
    run_end = e;
    return e;
  }

  size_t match(size_t w, size_t pos) {
    if (!equals_ci_at(s, pos, words[w])) return std::string_view::npos;
    size_t q = pos + words[w].size();
    if (w + 1 == words.size()) return is_word_boundary(s, q) ? q : std::string_view::npos;
    size_t run = nonword_run_end(q) - q;
    if (run == 0) return std::string_view::npos;
    // \W+ is greedy: the longest run first, then shorter ones. When the next word starts with a
    // word character only the whole run can be followed by it.
    size_t shortest = is_word(words[w + 1].front()) ? run : 1;
    for (size_t k = run; k >= shortest; --k) {
      if (++steps > kMaxSteps) return std::string_view::npos;
      uint64_t key = (uint64_t(q + k) << 8) | uint64_t(w + 1);
      if (failed.count(key)) continue;
      size_t e = match(w + 1, q + k);
      if (e != std::string_view::npos) return e;
      if (steps > kMaxSteps) return std::string_view::npos;
      failed.insert(key);
    }
    return std::string_view::npos;
  }
};

bool is_known_tag_prefix(std::string_view token, std::initializer_list<std::string_view> tags) {
  std::string_view head = token.substr(0, 6);
  for (std::string_view t : tags)
    if (head == t) return true;
  return false;
}

}  // namespace

bool find_phrase(std::string_view s, const std::vector<std::string>& words, size_t& begin, size_t& end,
                 size_t from) {
  if (words.empty()) return false;
  if (words.size() > 255) fail("negex: phrase has more than 255 words");
  PhraseMatcher m{s, words, {}};
  const char first = to_lower(words.front().front());
  for (size_t p = from; p < s.size() && m.steps <= kMaxSteps; ++p) {
    if (to_lower(s[p]) != first || !is_word_boundary(s, p)) continue;
    size_t e = m.match(0, p);
    if (e != std::string_view::npos) {
      begin = p;
      end = e;
      return true;
    }
  }
  return false;
}

Negex Negex::parse(std::string_view contents, const std::string& source) {
  // Python's readlines() in text mode: universal newlines, each line keeps its "\n".
  std::string text = normalize_newlines(contents);
  Negex negex;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    size_t raw_length = (nl == std::string::npos ? end : nl + 1) - pos;
    std::string_view line(text.data() + pos, end - pos);
    pos += raw_length;
    ++line_no;
    std::string_view stripped = strip(line);
    if (stripped.empty()) continue;
    std::vector<std::string_view> fields;
    for (size_t b = 0;;) {
      size_t tab = stripped.find('\t', b);
      fields.push_back(stripped.substr(b, tab == std::string_view::npos ? std::string_view::npos : tab - b));
      if (tab == std::string_view::npos) break;
      b = tab + 1;
    }
    CXR_CHECK(fields.size() == 3, source, ":", line_no, ": expected trigger<TAB><TAB>[TAG], got ", fields.size(),
              " tab-separated fields");
    NegexTrigger t;
    t.text = std::string(strip(fields[0]));
    t.tag = std::string(strip(fields[2]));
    t.line_length = raw_length;
    std::vector<std::string_view> words;
    split_whitespace(t.text, words);
    CXR_CHECK(!words.empty(), source, ":", line_no, ": empty trigger");
    CXR_CHECK(!t.tag.empty(), source, ":", line_no, ": empty tag for trigger '", t.text, "'");
    CXR_CHECK(t.text.find_first_of(kRegexMeta) == std::string::npos, source, ":", line_no, ": trigger '", t.text,
              "' contains a regular-expression metacharacter (", kRegexMeta, "); triggers are matched literally");
    CXR_CHECK(t.tag.find('\\') == std::string::npos, source, ":", line_no, ": tag '", t.tag, "' contains a backslash");
    std::string joined;
    for (auto w : words) {
      if (!joined.empty()) joined.push_back('_');
      joined.append(w);
      t.words.emplace_back(w);
    }
    t.replacement = " " + t.tag + joined + t.tag + " ";
    negex.triggers_.push_back(std::move(t));
  }
  // ruleList.sort(key=len, reverse=True): descending raw length, stable for equal lengths.
  std::stable_sort(negex.triggers_.begin(), negex.triggers_.end(),
                   [](const NegexTrigger& a, const NegexTrigger& b) { return a.line_length > b.line_length; });
  return negex;
}

Negex Negex::load(const std::string& path) {
  return parse(read_file(path, "NegEx trigger file"), path);
}

const Negex& Negex::project_default() {
  static const Negex negex = parse(text_resource("negex_triggers.txt"), "text/data/negex_triggers.txt");
  return negex;
}

std::string Negex::tag_triggers(std::string_view sentence) const {
  std::string cur(sentence), next;
  std::vector<size_t> word_starts;
  find_word_starts(cur, word_starts);
  for (const NegexTrigger& t : triggers_) {
    if (substitute_trigger(cur, word_starts, t, next)) {
      cur.swap(next);
      find_word_starts(cur, word_starts);
    }
  }
  return cur;
}

std::string Negex::tag(std::string_view sentence, std::string_view phrase, const NegexOptions& options) const {
  std::string s = tag_triggers(sentence);

  // The phrase: escaped (a no-op for a literal matcher), split on whitespace, joined with \W+.
  std::vector<std::string_view> pw;
  split_whitespace(phrase, pw);
  std::vector<std::string> words(pw.begin(), pw.end());
  size_t b = 0, e = 0;
  if (find_phrase(s, words, b, e)) {
    std::string matched = s.substr(b, e - b);
    s = replace_all(s, matched, "[PHRASE]" + join_whitespace_runs(strip(matched)) + "[PHRASE]");
  }

  std::vector<std::string_view> views;
  split_whitespace(s, views);
  std::vector<std::string> tokens(views.begin(), views.end());
  const size_t n = tokens.size();
  const size_t window = options.window > 0 ? size_t(options.window) : SIZE_MAX;

  // Forward pass: [PREN] opens a scope; a [CONJ]/[PSEU]/[POST]/[PREP]/[POSP] token or the token
  // before another [PREN] closes it.
  bool pren = false, overlap = false;
  size_t since = 0;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i].compare(0, 6, "[PREN]") == 0) pren = true, overlap = false, since = 0;
    if (is_known_tag_prefix(tokens[i], {"[CONJ]", "[PSEU]", "[POST]", "[PREP]", "[POSP]"})) overlap = true;
    if (i + 1 < n && tokens[i + 1].compare(0, 6, "[PREN]") == 0) overlap = true;
    if (pren && !overlap && since <= window) tokens[i] = replace_all(tokens[i], "[PHRASE]", "[NEGATED]");
    ++since;
  }
  // Backward pass: the same from the end for [POST] (overlap carries over, as in the reference; it
  // cannot matter because only a [POST] token opens a scope and it clears the flag).
  bool post = false;
  since = 0;
  for (size_t r = 0; r < n; ++r) {
    size_t i = n - 1 - r;
    if (tokens[i].compare(0, 6, "[POST]") == 0) post = true, overlap = false, since = 0;
    if (is_known_tag_prefix(tokens[i], {"[CONJ]", "[PSEU]", "[PREN]", "[PREP]", "[POSP]"})) overlap = true;
    if (r + 1 < n && tokens[i - 1].compare(0, 6, "[POST]") == 0) overlap = true;
    if (post && !overlap && since <= window) tokens[i] = replace_all(tokens[i], "[PHRASE]", "[NEGATED]");
    ++since;
  }

  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out.push_back(' ');
    out.append(tokens[i]);
  }
  return out;
}

bool Negex::is_negated(std::string_view sentence, std::string_view phrase, const NegexOptions& options) const {
  return tag(sentence, phrase, options).find("[NEGATED]") != std::string::npos;
}

}  // namespace cxr::text
