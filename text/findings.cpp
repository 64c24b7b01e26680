// findings.cpp — see findings.h. Work is per sentence on word tokens (runs of ASCII letters and
// digits, lower-cased): triggers are found longest-first without overlaps, then every phrase is
// matched, then each mention's value is read off the nearest triggers around it.
#include "text/findings.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "tensor/error.h"
#include "tensor/file_io.h"
#include "text/chars.h"
#include "text/report.h"
#include "text/resources.h"

namespace cxr::text {

namespace {

struct Token {
  std::string word;     // lower case
  size_t begin = 0, end = 0;
  bool hard_before = false;  // a ',', ';', ':', bracket or quote separates it from the previous token
};

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  bool hard = false;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!is_ascii_alnum(c)) {
      if (std::string_view(",;:()[]{}\"").find(char(c)) != std::string_view::npos) hard = true;
      ++i;
      continue;
    }
    Token t;
    t.begin = i;
    while (i < s.size() && is_ascii_alnum(static_cast<unsigned char>(s[i]))) t.word.push_back(to_lower(s[i++]));
    t.end = i;
    t.hard_before = hard;
    hard = false;
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::string> words_of(std::string_view s) {
  std::vector<std::string> out;
  for (auto& t : tokenize(s)) out.push_back(std::move(t.word));
  return out;
}

enum TriggerKind { kPren, kPost, kPrep, kPosp, kConj, kPseu, kOtherTag };
TriggerKind trigger_kind(std::string_view tag) {
  if (tag == "[PREN]") return kPren;
  if (tag == "[POST]") return kPost;
  if (tag == "[PREP]") return kPrep;
  if (tag == "[POSP]") return kPosp;
  if (tag == "[CONJ]") return kConj;
  if (tag == "[PSEU]") return kPseu;
  return kOtherTag;
}

struct TriggerSpan {
  size_t first, last;
  TriggerKind kind;
};

struct Match {
  const FindingsPhrase* phrase;
  size_t first, last;            // first and last token of the match
  std::vector<size_t> literals;  // tokens matched by words (not skipped by a gap)
};

int priority(int value) {
  switch (value) {
    case kPositive: return 3;
    case kUncertain: return 2;
    case kNegative: return 1;
    default: return 0;
  }
}

}  // namespace

int observation_index(std::string_view name) {
  for (int i = 0; i < kNumObservations; ++i)
    if (kObservationNames[i] == name) return i;
  if (name == "Other") return kOtherFinding;
  return -1;
}

std::vector<std::string_view> split_findings_sentences(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  auto cut = [&](size_t at, size_t next) {
    if (at > start) out.push_back(text.substr(start, at - start));
    start = next;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      bool decimal = i > 0 && i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i - 1])) &&
                     std::isdigit(static_cast<unsigned char>(text[i + 1]));
      if (!decimal) cut(i, i + 1);
    } else if (c == '?' || c == '!' || c == ';' || c == ':') {
      cut(i, i + 1);
    } else if (c == '\n' && i + 1 < text.size() && text[i + 1] == '\n') {
      cut(i, i + 1);
    }
  }
  cut(text.size(), text.size());
  return out;
}

FindingsPhrases FindingsPhrases::parse(std::string_view contents, const std::string& source) {
  std::string text = normalize_newlines(contents);
  FindingsPhrases out;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    std::string_view s = strip(line);
    if (s.empty() || s[0] == '#') continue;
    size_t t1 = s.find('\t'), t2 = t1 == std::string_view::npos ? t1 : s.find('\t', t1 + 1);
    CXR_CHECK(t2 != std::string_view::npos, source, ":", line_no, ": expected observation<TAB>kind<TAB>pattern");
    FindingsPhrase p;
    std::string_view obs = strip(s.substr(0, t1)), kind = strip(s.substr(t1 + 1, t2 - t1 - 1));
    p.text = std::string(strip(s.substr(t2 + 1)));
    p.observation = observation_index(obs);
    CXR_CHECK(p.observation >= 0 && p.observation != kNoFinding, source, ":", line_no, ": unknown observation '", obs,
              "' (a CheXpert observation other than No Finding, or Other)");
    if (kind == "mention") p.kind = FindingsPhrase::Kind::kMention;
    else if (kind == "negative") p.kind = FindingsPhrase::Kind::kNegative;
    else if (kind == "uncertain") p.kind = FindingsPhrase::Kind::kUncertain;
    else if (kind == "ignore") p.kind = FindingsPhrase::Kind::kIgnore;
    else fail(source, ":", line_no, ": unknown kind '", kind, "' (mention, negative, uncertain or ignore)");
    std::vector<std::string_view> parts;
    split_whitespace(p.text, parts);
    for (std::string_view part : parts) {
      if (part == "...") {
        CXR_CHECK(!p.elements.empty() && !p.elements.back().word.empty(), source, ":", line_no,
                  ": '...' must sit between words");
        p.elements.push_back({});
        continue;
      }
      bool prefix = part.size() > 1 && part.back() == '*';
      std::vector<std::string> words = words_of(prefix ? part.substr(0, part.size() - 1) : part);
      CXR_CHECK(!words.empty(), source, ":", line_no, ": '", part, "' holds no word");
      for (size_t i = 0; i < words.size(); ++i) p.elements.push_back({words[i], prefix && i + 1 == words.size()});
    }
    CXR_CHECK(!p.elements.empty() && !p.elements.back().word.empty(), source, ":", line_no,
              ": a pattern must start and end with a word");
    out.phrases.push_back(std::move(p));
  }
  return out;
}

FindingsPhrases FindingsPhrases::load(const std::string& path) {
  return parse(read_file(path, "findings phrase list"), path);
}

FindingsPhrases FindingsPhrases::project_default() {
  return parse(text_resource("findings/phrases.tsv"), "text/data/findings/phrases.tsv");
}

FindingsLabeler::FindingsLabeler(FindingsPhrases phrases, Negex triggers, FindingsOptions options)
    : phrases_(std::move(phrases)), triggers_(std::move(triggers)), options_(options) {
  for (const auto& t : triggers_.triggers()) {
    trigger_words_.push_back(words_of(t.text));
    if (!trigger_words_.back().empty())
      triggers_by_first_word_[trigger_words_.back()[0]].push_back(trigger_words_.size() - 1);
  }
  for (size_t i = 0; i < phrases_.phrases.size(); ++i) {
    const auto& first = phrases_.phrases[i].elements[0];
    if (first.prefix) phrases_with_prefix_start_[static_cast<unsigned char>(first.word[0])].push_back(i);
    else phrases_by_first_word_[first.word].push_back(i);
  }
}

FindingsLabeler FindingsLabeler::project_default(FindingsOptions options) {
  return FindingsLabeler(FindingsPhrases::project_default(), Negex::project_default(), options);
}

namespace {

// Matches elements[e..] with element e at token t. Appends matched word tokens to `literals`.
// A gap never skips a [CONJ]/[PSEU] trigger; it crosses a comma only in a `negative` phrase ("the
// heart, mediastinum and hila are normal"), so that "heart size, enlarged aorta" is no mention.
bool match_elements(const std::vector<FindingsPhrase::Element>& el, size_t e, size_t t, const std::vector<Token>& toks,
                    const std::vector<char>& blocks_gap, int max_gap, bool gap_crosses_commas,
                    std::vector<size_t>& literals, size_t& last) {
  if (e == el.size()) {
    last = t - 1;
    return true;
  }
  if (el[e].word.empty()) {  // a gap: the fewest skipped words first
    for (int g = 0; g <= max_gap && t + g < toks.size(); ++g) {
      if (g > 0 && blocks_gap[t + g - 1]) return false;
      if (!gap_crosses_commas && toks[t + g].hard_before) return false;
      size_t mark = literals.size();
      if (match_elements(el, e + 1, t + g, toks, blocks_gap, max_gap, gap_crosses_commas, literals, last)) return true;
      literals.resize(mark);
    }
    return false;
  }
  if (t >= toks.size()) return false;
  const std::string& w = toks[t].word;
  bool ok = el[e].prefix ? w.compare(0, el[e].word.size(), el[e].word) == 0 : w == el[e].word;
  if (!ok) return false;
  if (e > 0 && !el[e - 1].word.empty() && toks[t].hard_before) return false;
  literals.push_back(t);
  return match_elements(el, e + 1, t + 1, toks, blocks_gap, max_gap, gap_crosses_commas, literals, last);
}

}  // namespace

FindingsResult FindingsLabeler::label(std::string_view report) const {
  std::string extracted;
  if (options_.sections_only) {
    extracted = extract_report_text(report).text;
    report = extracted;
  }
  FindingsResult result;
  result.labels.fill(kNotMentioned);
  std::array<int, kNumObservations + 1> best;  // + Other
  best.fill(kNotMentioned);
  bool any_words = false;

  for (std::string_view sentence : split_findings_sentences(report)) {
    std::vector<Token> toks = tokenize(sentence);
    if (toks.empty()) continue;
    any_words = true;
    const size_t n = toks.size();

    // Triggers: at each token the longest trigger (in words) that matches, no overlaps.
    std::vector<TriggerSpan> spans;
    std::vector<char> blocks_gap(n, 0);
    for (size_t i = 0; i < n;) {
      size_t best_len = 0;
      TriggerKind best_kind = kOtherTag;
      auto candidates = triggers_by_first_word_.find(toks[i].word);
      if (candidates == triggers_by_first_word_.end()) {
        ++i;
        continue;
      }
      for (size_t k : candidates->second) {
        const auto& tw = trigger_words_[k];
        if (tw.size() <= best_len || i + tw.size() > n) continue;
        bool ok = true;
        for (size_t j = 1; j < tw.size() && ok; ++j) ok = toks[i + j].word == tw[j] && !toks[i + j].hard_before;
        if (ok) best_len = tw.size(), best_kind = trigger_kind(triggers_.triggers()[k].tag);
      }
      if (best_len == 0) {
        ++i;
        continue;
      }
      spans.push_back({i, i + best_len - 1, best_kind});
      if (best_kind == kConj || best_kind == kPseu)
        for (size_t j = i; j < i + best_len; ++j) blocks_gap[j] = 1;
      i += best_len;
    }

    // Phrases.
    std::vector<Match> matches;
    auto try_phrase = [&](size_t index, size_t t) {
      const FindingsPhrase& p = phrases_.phrases[index];
      Match m{&p, t, t, {}};
      if (match_elements(p.elements, 0, t, toks, blocks_gap, options_.max_gap,
                         p.kind == FindingsPhrase::Kind::kNegative, m.literals, m.last))
        matches.push_back(std::move(m));
    };
    for (size_t t = 0; t < n; ++t) {
      auto exact = phrases_by_first_word_.find(toks[t].word);
      if (exact != phrases_by_first_word_.end())
        for (size_t index : exact->second) try_phrase(index, t);
      for (size_t index : phrases_with_prefix_start_[static_cast<unsigned char>(toks[t].word[0])]) try_phrase(index, t);
    }

    // Intervals that cover mentions: `ignore` matches drop any mention inside them; `negative` and
    // `uncertain` matches replace the plain mentions inside them. Sorted by start with a running
    // maximum of ends, so "is [a, b] inside one of them" is a binary search (hostile text can hold
    // tens of thousands of matches).
    struct Cover {
      std::vector<std::pair<size_t, size_t>> spans;  // (first, last), sorted
      std::vector<size_t> max_last;
      void add(size_t a, size_t b) { spans.push_back({a, b}); }
      void finish() {
        std::sort(spans.begin(), spans.end());
        max_last.resize(spans.size());
        for (size_t i = 0; i < spans.size(); ++i) max_last[i] = std::max(i ? max_last[i - 1] : 0, spans[i].second);
      }
      bool covers(size_t a, size_t b) const {
        auto it = std::upper_bound(spans.begin(), spans.end(), std::make_pair(a, SIZE_MAX));
        return it != spans.begin() && max_last[size_t(it - spans.begin()) - 1] >= b;
      }
    };
    std::vector<Cover> ignore_cover(kNumObservations + 1), value_cover(kNumObservations + 1);
    for (const Match& m : matches) {
      if (m.phrase->kind == FindingsPhrase::Kind::kIgnore) ignore_cover[m.phrase->observation].add(m.first, m.last);
      else if (m.phrase->kind != FindingsPhrase::Kind::kMention) value_cover[m.phrase->observation].add(m.first, m.last);
    }
    for (auto& c : ignore_cover) c.finish();
    for (auto& c : value_cover) c.finish();

    for (const Match& m : matches) {
      const int obs = m.phrase->observation;
      if (m.phrase->kind == FindingsPhrase::Kind::kIgnore) continue;
      // A mention inside an `ignore` match does not count; a plain mention inside a `negative` or
      // `uncertain` match of the same observation gives way to it ("pulmonary vascular engorgement
      // ... within normal limits").
      if (ignore_cover[obs].covers(m.first, m.last)) continue;
      if (m.phrase->kind == FindingsPhrase::Kind::kMention && value_cover[obs].covers(m.first, m.last)) continue;

      auto is_literal = [&](const TriggerSpan& s) {
        for (size_t t : m.literals)
          if (t >= s.first && t <= s.last) return true;
        return false;
      };
      // The nearest trigger before the mention, any trigger inside it (in a gap), the nearest
      // after. Trigger spans do not overlap and are sorted, so these are binary searches; a span
      // reaching into the mention overlaps one of its words and is skipped.
      auto after_first = std::partition_point(spans.begin(), spans.end(),
                                              [&](const TriggerSpan& s) { return s.last < m.first; });
      const TriggerSpan* pre = after_first == spans.begin() ? nullptr : &*(after_first - 1);
      const TriggerSpan* post = nullptr;
      bool inner_neg = false, inner_unc = false;
      for (auto it = after_first; it != spans.end(); ++it) {
        if (it->first > m.last) {
          post = &*it;
          break;
        }
        if (is_literal(*it)) continue;
        if (it->kind == kPren || it->kind == kPost) inner_neg = true;
        else if (it->kind == kPrep || it->kind == kPosp) inner_unc = true;
      }
      TriggerKind before = pre ? pre->kind : kOtherTag, after = post ? post->kind : kOtherTag;
      int value = kPositive;
      switch (m.phrase->kind) {
        case FindingsPhrase::Kind::kNegative: value = kNegative; break;
        case FindingsPhrase::Kind::kUncertain:
          value = (before == kPren || inner_neg) ? kNegative : kUncertain;
          break;
        default:
          // CheXpert's order: uncertainty stated before the mention, then negation, then
          // uncertainty stated after it.
          if (before == kPrep) value = kUncertain;
          else if (before == kPren || after == kPost || inner_neg) value = kNegative;
          else if (after == kPosp || inner_unc) value = kUncertain;
          break;
      }
      if (priority(value) > priority(best[obs])) best[obs] = value;
      FindingsMention fm;
      fm.observation = obs;
      fm.value = value;
      fm.phrase = m.phrase->text;
      fm.text = std::string(sentence.substr(toks[m.first].begin, toks[m.last].end - toks[m.first].begin));
      result.mentions.push_back(std::move(fm));
    }
  }

  for (int o = 1; o < kNumObservations; ++o) result.labels[o] = best[o];
  if (any_words) {
    bool pathology = false;
    for (int o = 1; o <= kNumObservations; ++o) {
      if (o == kSupportDevices) continue;
      if (best[o] == kPositive || best[o] == kUncertain) pathology = true;
    }
    result.labels[kNoFinding] = pathology ? kNotMentioned : kPositive;
  }
  return result;
}

}  // namespace cxr::text
