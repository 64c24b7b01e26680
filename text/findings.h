// findings.h — a CheXpert-style findings labeler: the 14 CheXpert observations, each labelled
// positive (1), negative (0), uncertain (−1) or not mentioned (−2; a blank cell in CheXpert's CSVs).
// Mentions come from the project's own phrase list (text/data/findings/phrases.tsv); whether a
// mention is negated or uncertain comes from NegEx-style trigger scopes (the project's trigger
// list: [PREN]/[POST] negate, [PREP]/[POSP] make uncertain, [CONJ]/[PSEU] end a scope).
// Aggregation as in CheXpert: any positive mention > any uncertain > any negative; No Finding is 1
// when no pathology (everything but Support Devices, plus the list's "Other" findings) is
// positive or uncertain. docs/LABELER.md describes the rules and the measured accuracy.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/negex.h"

namespace cxr::text {

inline constexpr int kNumObservations = 14;
// CheXpert's column order and names.
inline constexpr std::array<std::string_view, kNumObservations> kObservationNames = {
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture",
    "Support Devices"};
inline constexpr int kNoFinding = 0;
inline constexpr int kSupportDevices = 13;
// Index of an observation name, kOtherFinding for "Other", −1 if unknown.
inline constexpr int kOtherFinding = kNumObservations;
int observation_index(std::string_view name);

// Label values (CheXpert's numeric convention; kNotMentioned is a blank cell).
inline constexpr int kPositive = 1, kNegative = 0, kUncertain = -1, kNotMentioned = -2;

// One phrase of the list: `observation<TAB>kind<TAB>pattern`. Kinds:
//   mention    states the finding; negation/uncertainty triggers around it decide its value
//   negative   itself states absence or normality ("heart size ... normal")
//   uncertain  itself states a borderline or doubtful finding ("heart size ... upper limits of normal")
//   ignore     a mention inside a match of this phrase does not count ("pericardial effusion")
// Pattern: words (letters/digits; other characters separate words), `word*` matches any word
// starting with `word`, `...` skips up to `max_gap` words (not across a [CONJ]/[PSEU] trigger).
struct FindingsPhrase {
  enum class Kind { kMention, kNegative, kUncertain, kIgnore };
  int observation = 0;  // 0..13 or kOtherFinding
  Kind kind = Kind::kMention;
  std::string text;
  struct Element {
    std::string word;  // empty for a gap
    bool prefix = false;
  };
  std::vector<Element> elements;
};

struct FindingsPhrases {
  std::vector<FindingsPhrase> phrases;
  // '#' starts a comment line; blank lines are skipped. Throws cxr::Error (source:line).
  static FindingsPhrases parse(std::string_view contents, const std::string& source);
  static FindingsPhrases load(const std::string& path);
  static FindingsPhrases project_default();  // text/data/findings/phrases.tsv, compiled in
};

struct FindingsOptions {
  bool sections_only = true;  // label the METHODS.md §1 extraction (Findings/Impression/...), not headers etc.
  int max_gap = 6;            // words a `...` may skip
};

struct FindingsMention {
  int observation = 0;
  int value = kPositive;  // kPositive, kNegative or kUncertain
  std::string phrase;     // the list entry that matched
  std::string text;       // the matched text
};

struct FindingsResult {
  std::array<int, kNumObservations> labels;  // kPositive, kNegative, kUncertain or kNotMentioned
  std::vector<FindingsMention> mentions;
};

class FindingsLabeler {
 public:
  FindingsLabeler(FindingsPhrases phrases, Negex triggers, FindingsOptions options = {});
  // The project's phrase and trigger lists.
  static FindingsLabeler project_default(FindingsOptions options = {});
  FindingsResult label(std::string_view report) const;

 private:
  FindingsPhrases phrases_;
  Negex triggers_;
  FindingsOptions options_;
  std::vector<std::vector<std::string>> trigger_words_;  // each trigger tokenized like report text
  // Lookup by a sentence word: the triggers and phrases that can start there.
  std::unordered_map<std::string, std::vector<size_t>> triggers_by_first_word_;
  std::unordered_map<std::string, std::vector<size_t>> phrases_by_first_word_;
  std::array<std::vector<size_t>, 256> phrases_with_prefix_start_;  // first element `word*`, by its first byte
};

// Sentences for the findings labeler: split at '.', '?', '!', ';' and ':' (not at a '.' between
// digits, as in "2.5 cm"), and at blank lines.
std::vector<std::string_view> split_findings_sentences(std::string_view text);

}  // namespace cxr::text
