// test_wordpiece.cpp — the BERT tokenizer against the Python reference
// (tools/bert_tokenizer_reference.py via tools/make_tokenizer_fixtures.py): Unicode edge cases,
// and every IU report (../shared/data/iu-reports; skipped, visibly, when absent). Also the
// vocabulary trainer, the CSV corpus reader and the sentence splitter.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "testing.h"
#include "text/corpus.h"
#include "text/unicode.h"
#include "text/vocab_trainer.h"
#include "text/wordpiece.h"

using namespace cxr;
using namespace cxr::text;
using namespace cxr::testing;

namespace {
const std::string kIuCsv = source_path("../shared/data/iu-reports/indiana_reports.csv");

Vocab golden_vocab(const std::string& name) { return Vocab::load(source_path("tests/goldens/vocab_" + name + ".txt")); }

std::vector<int64_t> as_ids(const Tensor& t) {
  std::vector<int64_t> out;
  for (double v : t.to_vector()) out.push_back(static_cast<int64_t>(v));
  return out;
}
}  // namespace

TEST_CASE("wordpiece: BERT's published examples") {
  CHECK(basic_tokenize(" \tHeLLo!how  \n Are yoU?  ") ==
        std::vector<std::string>{"hello", "!", "how", "are", "you", "?"});
  CHECK(basic_tokenize("H\xC3\xA9llo") == std::vector<std::string>{"hello"});  // accent stripped
  CHECK(basic_tokenize(" \tHeLLo!how  \n Are yoU?  ", {.do_lower_case = false}) ==
        std::vector<std::string>{"HeLLo", "!", "how", "Are", "yoU", "?"});
  CHECK(basic_tokenize("ah\xE5\x8D\x9A\xE6\x8E\xA8zz") ==
        std::vector<std::string>{"ah", "\xE5\x8D\x9A", "\xE6\x8E\xA8", "zz"});
  Vocab v({"[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing"});
  CHECK(wordpiece("unwanted", v) == std::vector<std::string>{"un", "##want", "##ed"});
  CHECK(wordpiece("running", v) == std::vector<std::string>{"runn", "##ing"});
  CHECK(wordpiece("unwantedX", v) == std::vector<std::string>{"[UNK]"});
  CHECK(wordpiece("", v).empty());
  CHECK(wordpiece(std::string(101, 'a'), v) == std::vector<std::string>{"[UNK]"});
  CHECK(is_bert_whitespace(' '));
  CHECK(is_bert_whitespace(0x00A0));
  CHECK(!is_bert_whitespace('A'));
  CHECK(is_bert_control(0x0005));
  CHECK(!is_bert_control('\t'));
  CHECK(is_bert_control(0x200B));
  CHECK(is_bert_punctuation('-'));
  CHECK(is_bert_punctuation('$'));
  CHECK(is_bert_punctuation(0x00BF));
  CHECK(!is_bert_punctuation('A'));
}

TEST_CASE("wordpiece: Unicode and edge cases match the Python reference") {
  std::ifstream in(source_path("tests/goldens/wordpiece_cases.json"));
  REQUIRE(in);
  nlohmann::json j = nlohmann::json::parse(in);
  CHECK_MESSAGE(j["unicode_version"].get<std::string>() == unicode_version(),
                "fixture made with Unicode ", j["unicode_version"].get<std::string>(), ", tables are ", unicode_version());
  std::map<std::string, Vocab> vocabs = {{"toy", Vocab(j["toy_vocab"].get<std::vector<std::string>>())},
                                         {"iu2000", golden_vocab("iu2000")},
                                         {"iu300", golden_vocab("iu300")}};
  int n = 0;
  for (const auto& c : j["cases"]) {
    std::string text = c["text"];
    bool lower = c["lower"];
    INFO("text '", text, "', vocab ", c["vocab"].get<std::string>(), ", lower ", lower);
    BertTokenizer tok(vocabs.at(c["vocab"]), {.do_lower_case = lower});
    CHECK(basic_tokenize(text, {.do_lower_case = lower}) == c["basic"].get<std::vector<std::string>>());
    CHECK(tok.tokenize(text) == c["tokens"].get<std::vector<std::string>>());
    CHECK(tok.encode(text) == c["ids"].get<std::vector<int64_t>>());
    BertFeatures f = tok.features(text, 12);
    CHECK(f.input_ids == c["features12_ids"].get<std::vector<int64_t>>());
    CHECK(f.attention_mask == c["features12_mask"].get<std::vector<int64_t>>());
    CHECK(f.token_type_ids == std::vector<int64_t>(12, 0));
    ++n;
  }
  CHECK(n > 100);
}

TEST_CASE("wordpiece: every IU report tokenizes exactly as the Python reference") {
  if (!std::filesystem::exists(kIuCsv)) {
    skip_test(kIuCsv + " not found (the IU reports live in ../shared/data, not in the repository)");
    return;
  }
  const auto& g = golden("wordpiece_iu");
  CsvTable t = read_csv(kIuCsv);
  const auto n = static_cast<int64_t>(t.rows.size());
  REQUIRE(g.tensors.at("uid").numel() == n);
  auto col = [&](const char* name) { return t.column(name); };
  std::vector<std::string> report, other;
  for (const auto& r : t.rows) {
    report.push_back(join_fields({r[col("findings")], r[col("impression")]}));
    other.push_back(join_fields({r[col("image")], r[col("indication")], r[col("comparison")], r[col("MeSH")],
                                 r[col("Problems")]}));
  }
  // The data must be the data the fixture was made from.
  std::vector<int64_t> uid = as_ids(g.tensors.at("uid"));
  for (const auto& [name, texts] : {std::pair{"report", &report}, std::pair{"other", &other}}) {
    const int64_t* h = g.tensors.at(std::string("text_hash.") + name).data<int64_t>();
    int64_t changed = 0;
    for (int64_t i = 0; i < n; ++i) {
      changed += static_cast<uint64_t>(h[i]) != fnv1a_bytes((*texts)[i]);
      CHECK(std::stoll(t.rows[i][0]) == uid[i]);
    }
    REQUIRE_MESSAGE(changed == 0, changed, " IU ", name, " texts differ from the ones the fixture was made from");
  }
  struct Combo {
    std::string key, vocab;
    bool lower;
    const std::vector<std::string>* texts;
  };
  std::vector<Combo> combos = {{"report.iu2000", "iu2000", true, &report},
                               {"report.iu300", "iu300", true, &report},
                               {"other.iu2000", "iu2000", true, &other},
                               {"report.iu2000.cased", "iu2000", false, &report}};
  for (const auto& c : combos) {
    BertTokenizer tok(golden_vocab(c.vocab), {.do_lower_case = c.lower});
    const int64_t* hash = g.tensors.at(c.key + ".hash").data<int64_t>();
    const int64_t* count = g.tensors.at(c.key + ".count").data<int64_t>();
    int64_t identical = 0, pieces = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int64_t> ids = tok.encode((*c.texts)[i]);
      pieces += static_cast<int64_t>(ids.size());
      bool same = static_cast<uint64_t>(hash[i]) == fnv1a_ids(ids) && count[i] == static_cast<int64_t>(ids.size());
      identical += same;
      if (!same && identical + 5 > i)  // show the first few differences
        CHECK_MESSAGE(same, c.key, ": report uid ", uid[i], ": ", ids.size(), " ids vs ", count[i], " in the reference");
    }
    MESSAGE("tokenizer parity ", c.key, ": ", identical, "/", n, " reports identical (", pieces, " wordpieces)");
    CHECK(identical == n);
  }
  // Full model inputs (max_seq_length 320) for a sample that includes truncated reports.
  std::vector<int64_t> rows = as_ids(g.tensors.at("features.rows"));
  for (const std::string vocab : {"iu2000", "iu300"}) {
    BertTokenizer tok(golden_vocab(vocab));
    std::vector<BertFeatures> feats;
    for (int64_t r : rows) feats.push_back(tok.features(report[r]));
    BertBatch b = collate(feats);
    CHECK(as_ids(b.input_ids) == as_ids(g.tensors.at("features.report." + vocab + ".input_ids")));
    CHECK(as_ids(b.attention_mask) == as_ids(g.tensors.at("features.report." + vocab + ".attention_mask")));
    CHECK(b.input_ids.shape() == Shape{static_cast<int64_t>(rows.size()), 320});
    if (vocab == "iu300") CHECK(feats[0].truncated());
  }
}

TEST_CASE("wordpiece: model inputs, truncation, padding and collation") {
  Vocab v({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##b"});
  BertTokenizer tok(v);
  BertFeatures f = tok.features("a bb a a", 5);  // 5 wordpieces, 3 kept
  CHECK(f.input_ids == std::vector<int64_t>{2, 5, 6, 7, 3});
  CHECK(f.attention_mask == std::vector<int64_t>{1, 1, 1, 1, 1});
  CHECK(f.num_wordpieces == 5);
  CHECK(f.truncated());
  f = tok.features("A", 6);
  CHECK(f.input_ids == std::vector<int64_t>{2, 5, 3, 0, 0, 0});
  CHECK(f.attention_mask == std::vector<int64_t>{1, 1, 1, 0, 0, 0});
  CHECK(!f.truncated());
  CHECK(f.length() == 3);
  CHECK(tok.features("", 4).input_ids == std::vector<int64_t>{2, 3, 0, 0});
  CHECK(tok.features(std::string(400, 'a') + " b", 320).input_ids.size() == 320);  // one [UNK] word
  BertBatch b = collate({tok.features("a", 8, false), tok.features("a bb", 8, false)});
  CHECK(b.input_ids.shape() == Shape{2, 5});
  CHECK(as_ids(b.input_ids) == std::vector<int64_t>{2, 5, 3, 0, 0, 2, 5, 6, 7, 3});
  CHECK(as_ids(b.attention_mask) == std::vector<int64_t>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1});
  CHECK_THROWS_WITH_AS(BertTokenizer(Vocab({"a"})), doctest::Contains("[UNK]"), Error);
  CHECK_THROWS_WITH_AS(basic_tokenize("ok \xC3("), doctest::Contains("invalid UTF-8 at byte 3"), Error);
  CHECK_THROWS_WITH_AS(basic_tokenize("\xE2\x82"), doctest::Contains("invalid UTF-8"), Error);
  CHECK_THROWS_WITH_AS(basic_tokenize("\xC0\x80"), doctest::Contains("invalid UTF-8"), Error);  // overlong
}

TEST_CASE("vocab trainer: merges by pair count, deterministic, covers its corpus") {
  std::vector<std::string> corpus = {"low lower lowest", "newer wider low", "low low new newest", "Wide, wider!"};
  VocabTrainerOptions opt;
  opt.vocab_size = 40;
  VocabTrainerStats st;
  Vocab v = train_wordpiece_vocab(corpus, opt, &st);
  CHECK(v.size() <= 40);
  CHECK(v.tokens()[0] == "[PAD]");
  CHECK(v.tokens()[4] == "[MASK]");
  CHECK(st.unique_words == 10);  // low lower lowest newer wider new newest wide , !
  CHECK(v.contains("l"));
  CHECK(v.contains("##o"));
  CHECK(v.contains("low"));  // the most frequent word becomes one token
  CHECK(train_wordpiece_vocab(corpus, opt).tokens() == v.tokens());
  BertTokenizer tok(v);
  for (const auto& text : corpus)
    for (const auto& t : tok.tokenize(text)) CHECK(t != "[UNK]");
  // The first merge is the most frequent pair: "l"+"##o" and "##o"+"##w" both occur 6 times; the
  // byte-wise smaller pair "##o","##w" wins the tie.
  opt.vocab_size = static_cast<int64_t>(5 + st.alphabet + 1);
  Vocab one = train_wordpiece_vocab(corpus, opt);
  CHECK(one.tokens().back() == "##ow");
  opt.vocab_size = 3;
  CHECK_THROWS_WITH_AS(train_wordpiece_vocab(corpus, opt), doctest::Contains("smaller than"), Error);
}

TEST_CASE("vocab trainer: reproduces the committed IU vocabularies") {
  if (!std::filesystem::exists(kIuCsv)) {
    skip_test(kIuCsv + " not found");
    return;
  }
  std::vector<std::string> texts;
  for (auto& d : read_corpus({kIuCsv})) texts.push_back(d.text);
  CHECK(texts.size() == 3826);  // 25 of the 3,851 reports have neither findings nor impression
  VocabTrainerOptions opt;
  opt.vocab_size = 2000;
  std::vector<std::string> trained = train_wordpiece_vocab(texts, opt).tokens();
  CHECK(trained == golden_vocab("iu2000").tokens());
  // training to 300 tokens stops the same run earlier: the first 300 tokens
  CHECK(std::vector<std::string>(trained.begin(), trained.begin() + 300) == golden_vocab("iu300").tokens());
}

TEST_CASE("corpus: CSV quoting, plain text, sentences") {
  CsvTable rows = parse_csv("a,b,c\r\n1,\"x, \"\"y\"\"\nz\",\n2,,last", "t.csv");
  REQUIRE(rows.rows.size() == 2);
  CHECK(rows.rows[0] == std::vector<std::string>{"1", "x, \"y\"\nz", ""});
  CHECK(rows.rows[1] == std::vector<std::string>{"2", "", "last"});
  CHECK_THROWS_WITH_AS(parse_csv("a,\"b", "t.csv"), doctest::Contains("unterminated"), Error);
  auto dir = std::filesystem::temp_directory_path();
  std::string csv = (dir / "cxr_corpus_test.csv").string(), txt = (dir / "cxr_corpus_test.txt").string();
  std::ofstream(csv) << "uid,findings,impression\n7,Heart normal.,\"No acute, disease.\"\n8,,\n9,,Clear.\n";
  std::ofstream(txt) << "first line\n\n  \nsecond line\r\n";
  auto docs = read_corpus({csv, txt});
  REQUIRE(docs.size() == 4);
  CHECK(docs[0].text == "Heart normal.\nNo acute, disease.");
  CHECK(docs[0].id == csv + ":7");
  CHECK(docs[1].text == "Clear.");
  CHECK(docs[3].text == "second line");
  CHECK(docs[3].id == txt + ":4");
  CHECK_THROWS_WITH_AS(read_corpus({csv}, {.csv_columns = {"nope"}}), doctest::Contains("no column 'nope'"), Error);
  std::filesystem::remove(csv);
  std::filesystem::remove(txt);
  CHECK(split_embedding_sentences("1. Bullous emphysema. 2. Probably scarring, e.g. left apex.There is more!\nNew line") ==
        std::vector<std::string>{"1. Bullous emphysema.", "2. Probably scarring, e.g.", "left apex.There is more!",
                                 "New line"});
}
