// test_report.cpp — the HTML report (report/): base64, the SVG/HTML builders, the fragment
// sanitizer, run and experiment pages rendered from fixture directories written here (config.json,
// metrics.jsonl, eval-*.json, explain/ with a PNG from data/image.h and an attention fragment),
// hostile strings, error messages, `cxr report` end to end, and the page loaded in headless
// Chromium (skipped, visibly, when /usr/bin/chromium is absent).
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "data/image.h"
#include "report/base64.h"
#include "report/fragment.h"
#include "report/html.h"
#include "runs/run_files.h"
#include "report/svg.h"
#include "tensor/error.h"
#include "tensor/random.h"
#include "text_testing.h"

using namespace cxr;
using namespace cxr::report;
using namespace cxr::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) ++n;
  return n;
}

// Markup that marks the page (data-pwned on <html>) if it ever runs: hostile strings carry it, the
// Chromium test looks for the mark. No quotes are needed for it to work, so escaping quotes alone
// would not defuse it; a half-escaped tag leaves a handler with a syntax error, which the page's
// error hook records.
const std::string kHostileScript = "<script>document.documentElement.dataset.pwned=1</script>";
const std::string kHostileImg = "\"><img src=x onerror=document.documentElement.dataset.pwned=2>";

json metric(double value, double lo, double hi) { return {{"value", value}, {"ci_low", lo}, {"ci_high", hi}}; }

// An 8 x 6 RGB gradient, as write_png writes it.
std::string tiny_png() {
  std::vector<double> v;
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) v.push_back((x * 31 + y * 17 + c * 50) % 256);
  return data::encode_png(from_vector(v, {6, 8, 3}), 8);
}

// <id>_attention.html as `cxr explain` writes it (apps/explain.cpp): a standalone page.
const std::string kExplainAttentionPage =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>s2.txt \u2014 [CLS] attention</title></head>\n"
    "<body>\n<div class=\"cxr-attention\" style=\"font-family: sans-serif; line-height: 1.6\">\n<h3>s2.txt</h3>\n"
    "<div style=\"white-space: pre-wrap\">No <span title=\"edema: 0.4000\" style=\"background-color: rgba(255, 140, "
    "0, 1); border-radius: 2px\">edema</span>.</div>\n</div>\n<p>Text head (softmax): class 0: <b>0.700</b>, class 1: "
    "0.300</p>\n<p style=\"color: #666; font-size: small\">Text: the whole file.</p>\n</body></html>\n";

struct RunSpec {
  std::string task = "edema";
  std::string method = "joint";
  double auc = 0.8123;  // auc_0v123 (edema) or auc_Cardiomegaly (findings)
  bool config = true, metrics = true, eval = true, explain = true;
};

// Writes a run directory in the format of docs/RUNS.md.
void write_run(const fs::path& dir, const RunSpec& spec) {
  fs::create_directories(dir);
  if (spec.config) {
    json config = {{"method", spec.method},
                   {"arch", "resnet256_6_2_1"},
                   {"image_size", 256},
                   {"task", spec.task},
                   {"num_outputs", spec.task == "edema" ? 4 : 2},
                   {"seed", 0},
                   {"manifest", "/data/manifest.csv"},
                   {"options", {{"epochs", 2}, {"lr", 0.0005}, {"batch_size", 8}}}};
    write_bytes((dir / "config.json").string(), config.dump(2));
  }
  if (spec.metrics) {
    std::string log;
    for (int k = 1; k <= 6; ++k) {
      json step = {{"event", "step"},
                   {"epoch", (k + 2) / 3},
                   {"step", 10 * k},
                   {"loss", 1.5 - 0.2 * k},
                   {"lr", 0.0005},
                   {"elapsed_s", 15.0 * k},
                   {"parts", {{"ce", 1.2 - 0.15 * k}, {"rank", 0.3 - 0.05 * k}}}};
      log += step.dump() + "\n";
      if (k % 3 == 0)
        log += json({{"event", "epoch"},
                     {"epoch", k / 3},
                     {"step", 10 * k},
                     {"elapsed_s", 15.0 * k + 2},
                     {"train_loss", 1.4 - 0.3 * (k / 3)},
                     {"val", {{"auc_0v123", 0.6 + 0.05 * k}, {"macro_f1", 0.3}}}})
                   .dump() +
               "\n";
    }
    write_bytes((dir / "metrics.jsonl").string(), log);
  }
  if (spec.eval) {
    json e;
    if (spec.task == "findings") {
      e = {{"task", "findings"},
           {"kind", "findings"},
           {"split", "test"},
           {"n", 60},
           {"metrics",
            {{"auc_Cardiomegaly", metric(spec.auc, spec.auc - 0.07, spec.auc + 0.06)},
             {"auc_Edema", metric(0.71, 0.6, 0.8)},
             {"auc_mean", metric(0.76, 0.7, 0.82)}}},
           {"roc",
            {{"auc_Cardiomegaly", {{"fpr", {0, 0.2, 1}}, {"tpr", {0, 0.7, 1}}}},
             {"auc_Edema", {{"fpr", {0, 0.4, 1}}, {"tpr", {0, 0.6, 1}}}}}},
           {"bootstrap", {{"replicates", 1000}, {"level", 0.95}, {"seed", 0}}}};
    } else {
      e = {{"task", spec.task},
           {"kind", "ordinal4"},
           {"split", "test"},
           {"n", 141},
           {"class_counts", {61, 44, 20, 16}},
           {"metrics",
            {{"auc_0v123", metric(spec.auc, 0.7414, 0.8799)},
             {"auc_01v23", metric(0.7, 0.6, 0.8)},
             {"auc_012v3", metric(0.9, 0.85, 0.95)},
             {"auc_1v2", {{"value", nullptr}, {"ci_low", nullptr}, {"ci_high", nullptr}}},
             {"macro_f1", metric(0.42, 0.35, 0.49)},
             {"precision_01v23", metric(0.375, 0.1, 0.6)}}},
           {"roc",
            {{"auc_0v123", {{"fpr", {0, 0.1, 0.5, 1}}, {"tpr", {0, 0.5, 0.9, 1}}}},
             {"auc_01v23", {{"fpr", {0, 0.3, 1}}, {"tpr", {0, 0.6, 1}}}},
             {"auc_012v3", {{"fpr", {0, 0.05, 1}}, {"tpr", {0, 0.8, 1}}}},
             {"auc_1v2", nullptr}}},  // undefined AUC: no curve (as cxr eval writes it)
           {"confusion", {{50, 8, 2, 1}, {10, 25, 6, 3}, {2, 5, 10, 3}, {1, 2, 4, 9}}},
           {"bootstrap", {{"replicates", 1000}, {"level", 0.95}, {"seed", 0}}}};
    }
    write_bytes((dir / "eval-test.json").string(), e.dump(2));
  }
  if (spec.explain) {
    fs::create_directories(dir / "explain");
    write_bytes((dir / "explain/s1_gradcam.png").string(), tiny_png());
    write_bytes((dir / "explain/s1_attention.html").string(),
                "<p>Mild <mark style=\"background:rgba(255,0,0,0.6)\">interstitial edema</mark> &amp; small "
                "effusions.</p>" +
                    kHostileScript + kHostileImg);
    write_bytes((dir / "explain/s1_gradcam.json").string(), json({{"input", "/data/images/s1.png"},
                                                                  {"arch", "resnet256_6_2_1"},
                                                                  {"layer", "layer6"},
                                                                  {"target", 2},
                                                                  {"probabilities", {0.1, 0.2, 0.6, 0.1}},
                                                                  {"probability_kind", "softmax"},
                                                                  {"cam", {{0.0, 1.0}, {0.5, 0.25}}}})
                                                                .dump());
    // s2: a report only, as the standalone page `cxr explain` writes.
    write_bytes((dir / "explain/s2_attention.html").string(), kExplainAttentionPage);
  }
}

// An experiment: table.json (rows in a scrambled order), runs/ with good, missing and broken runs.
void write_experiment(const fs::path& dir) {
  json rows = json::array();
  auto row = [&](const std::string& method, const std::string& encoder, const std::string& bound,
                 const std::string& task, const std::string& run, double v) {
    json metrics;
    if (task == "edema") {
      metrics = {{"auc_0v123", metric(v, v - 0.07, v + 0.06)},
                 {"auc_01v23", metric(v - 0.1, v - 0.17, v - 0.03)},
                 {"auc_012v3", metric(v + 0.1, v + 0.05, v + 0.14)},
                 {"macro_f1", metric(0.4, 0.33, 0.47)},
                 {"auc_0v1", metric(0.6, 0.5, 0.7)}};  // not a §12 column
    } else {
      metrics = {{"auc_Cardiomegaly", metric(v, v - 0.07, v + 0.06)},
                 {"auc_mean", metric(v - 0.02, v - 0.1, v + 0.05)}};
    }
    rows.push_back({{"method", method},
                    {"encoder", encoder},
                    {"bound", bound},
                    {"task", task},
                    {"run", run},
                    {"metrics", metrics}});
  };
  row("local-mi", "tuned", "dv", "edema", "runs/local-mi-dv-tuned-edema", 0.83);
  row("global-mi", "frozen", "dv", "edema", "runs/global-mi-dv-frozen-edema", 0.8321);
  row("image-only", "n/a", "n/a", "edema", "runs/./image-only-edema/", 0.8012);  // the same as runs/image-only-edema
  row("global-mi", "frozen", "infonce", "edema", "runs/global-mi-infonce-frozen-edema", 0.8111);
  row("local-mi", "tuned", "infonce", "edema", "runs/local-mi-infonce-tuned-edema", 0.8712);
  row("image-only", "n/a", "n/a", "findings", "runs/image-only-findings", 0.71);
  row("global-mi", "tuned", "dv", "findings", "", 0.81);
  json table = {{"labeled_fraction", 0.1}, {"tasks", {"edema", "findings"}}, {"rows", rows}};
  fs::create_directories(dir);
  write_bytes((dir / "table.json").string(), table.dump(2));
  write_run(dir / "runs/image-only-edema", {.method = "image", .auc = 0.8012});
  write_run(dir / "runs/global-mi-dv-frozen-edema", {.method = "mi", .auc = 0.8321});
  write_run(dir / "runs/global-mi-infonce-frozen-edema", {.method = "mi", .auc = 0.8111, .explain = false});
  write_run(dir / "runs/image-only-findings", {.task = "findings", .method = "image", .auc = 0.71});
  // runs/local-mi-infonce-tuned-edema is missing; local-mi-dv-tuned-edema has a broken eval file.
  write_run(dir / "runs/local-mi-dv-tuned-edema", {.method = "mi", .auc = 0.83, .eval = false});
  write_bytes((dir / "runs/local-mi-dv-tuned-edema/eval-test.json").string(), "{\"task\": \"edema\", \"metrics\": {");
}

// The text between the first occurrence of `from` and the next `to` after it.
std::string between(const std::string& s, const std::string& from, const std::string& to) {
  size_t a = s.find(from);
  REQUIRE_MESSAGE(a != std::string::npos, "no '", from, "' in the page");
  size_t b = s.find(to, a + from.size());
  REQUIRE_MESSAGE(b != std::string::npos, "no '", to, "' after '", from, "'");
  return s.substr(a, b - a);
}

}  // namespace

TEST_CASE("report base64: RFC 4648 test vectors, round trips, strict decoding") {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    CHECK(base64_decode(encoded) == plain);
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  CHECK(base64_encode(std::string("\xfb\xff\xbf", 3)) == "+/+/");
  for (size_t n = 0; n <= all.size(); n += 37)
    CHECK(base64_decode(base64_encode(all.substr(0, n))) == all.substr(0, n));
  CHECK_THROWS_WITH_AS(base64_decode("Zm9"), doctest::Contains("not a multiple of 4"), Error);
  CHECK_THROWS_WITH_AS(base64_decode("Zm=v"), doctest::Contains("padding before the end"), Error);
  CHECK_THROWS_WITH_AS(base64_decode("Zg==Zg=="), doctest::Contains("padding before the end"), Error);
  CHECK_THROWS_WITH_AS(base64_decode("Z@=="), doctest::Contains("invalid character"), Error);
  CHECK_THROWS_WITH_AS(base64_decode("Zh=="), doctest::Contains("non-zero padding bits"), Error);
}

TEST_CASE("report svg: escaping, numbers, ticks and smoothing") {
  CHECK(html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(html_escape("\xc3\xa9\xe2\x80\xa6") == "\xc3\xa9\xe2\x80\xa6");            // é… kept
  CHECK(html_escape(std::string("x\xff\x01y\xc3", 5)) == "x\uFFFD\uFFFDy\uFFFD");  // invalid bytes, controls
  CHECK(html_escape("\xed\xa0\x80") == "\uFFFD\uFFFD\uFFFD");                      // a surrogate
  CHECK(format_fixed(0.81234, 3) == "0.812");
  CHECK(format_fixed(0.8799, 3) == "0.880");
  CHECK(format_fixed(-0.0001, 2) == "0.00");
  CHECK(format_fixed(NAN, 3) == "n/a");
  CHECK(nice_ticks(0, 1) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
  std::vector<double> t = nice_ticks(0.73, 0.91);
  REQUIRE(t.size() >= 2);
  CHECK(t.front() <= 0.73);
  CHECK(t.back() >= 0.91);
  CHECK(t[1] - t[0] == doctest::Approx(0.05));
  CHECK(nice_ticks(0, 1234) == std::vector<double>{0, 200, 400, 600, 800, 1000, 1200, 1400});
  t = nice_ticks(5, 5);  // widened to [4.5, 5.5], steps of 0.2
  REQUIRE(t.size() == 7);
  CHECK(t.front() == doctest::Approx(4.4));
  CHECK(t.back() == doctest::Approx(5.6));
  CHECK(nice_ticks(0, 0) == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  // A range too narrow for its magnitude (a metric that did not move) is widened, not split into
  // 1e17 steps (found on a real 3-step run).
  t = nice_ticks(0.8797499985360094, 0.8797499985360095);
  CHECK(t.size() >= 2);
  CHECK(t.size() <= 12);
  CHECK(t.front() < 0.8797);
  CHECK(t.back() > 0.8798);
  CHECK_THROWS_WITH_AS(nice_ticks(0, 1, 5000), doctest::Contains("(at most 1000)"), Error);
  CHECK(nice_ticks(1, 3, 6) == std::vector<double>{1, 1.5, 2, 2.5, 3});
  CHECK(nice_ticks(1, 3, 6, 1) == std::vector<double>{1, 2, 3});  // whole numbers (epochs)
  CHECK(tick_decimals(0.05) == 2);
  CHECK(tick_decimals(200) == 0);
  CHECK_THROWS_WITH_AS(nice_ticks(1, NAN), doctest::Contains("not finite"), Error);
  // The bias-corrected EMA: m = w m + (1 - w) y, s = m / (1 - w^t).
  std::vector<double> s = ema_smooth({1, 2, NAN, 3}, 0.5);
  CHECK(s[0] == doctest::Approx(1.0));
  CHECK(s[1] == doctest::Approx(1.25 / 0.75));
  CHECK(std::isnan(s[2]));
  CHECK(s[3] == doctest::Approx(2.125 / 0.875));
  for (double v : ema_smooth({0.7, 0.7, 0.7}, 0.9)) CHECK(v == doctest::Approx(0.7));  // unbiased from the start
  CHECK_THROWS_WITH_AS(ema_smooth({1}, 1.0), doctest::Contains("weight 1 must lie in [0, 1)"), Error);
}

TEST_CASE("report svg: line chart geometry, gaps, legend and escaping") {
  Series a{.name = "loss <raw>", .x = {0, 5, 10}, .y = {0, 0.5, 1}};
  Series b{.name = "val", .x = {0, 2, 4, 6, 8}, .y = {0.2, 0.3, NAN, 0.4, 0.5}, .dashed = true, .markers = true};
  LineChartOptions opt{.title = "Curves & <more>", .x_label = "step", .y_label = "loss", .y_min = 0.0, .y_max = 1.0};
  std::string svg = line_chart_svg({a, b}, opt);
  CHECK(svg == line_chart_svg({a, b}, opt));  // deterministic
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"", 0) == 0);
  // Plot area 476 x 240 (560 wide minus margins 64 + 20): (5, 0.5) is at (238, 120) in its viewport.
  CHECK(contains(svg, "<path d=\"M0.0 240.0 L238.0 120.0 L476.0 0.0\""));
  // The NaN splits series b into two segments; markers draw every finite point.
  std::string b_group = between(svg, "data-series=\"val\"", "</g>");
  CHECK(count(b_group, "M") == 2);
  CHECK(count(b_group, "<circle") == 4);
  CHECK(contains(b_group, "stroke-dasharray"));
  CHECK(contains(svg, ">loss &lt;raw&gt;</text>"));
  CHECK(contains(svg, "<title>Curves &amp; &lt;more&gt;</title>"));
  CHECK_FALSE(contains(svg, "<raw>"));
  // Tick labels: 0.0 ... 1.0 on y, 0 ... 10 on x.
  CHECK(contains(svg, ">0.6</text>"));
  CHECK(contains(svg, ">10</text>"));
  // A series without finite points is named in the legend; no data at all says so.
  CHECK(contains(line_chart_svg({{.name = "empty", .x = {1}, .y = {NAN}}}, {}), "empty (no data)"));
  CHECK(contains(line_chart_svg({}, {}), ">no data</text>"));
  CHECK_THROWS_WITH_AS(line_chart_svg({{.name = "bad", .x = {1, 2}, .y = {1}}}, {}),
                       doctest::Contains("series 'bad' has 2 x values and 1 y values"), Error);
  CHECK_THROWS_WITH_AS(line_chart_svg({a}, {.y_min = 1.0, .y_max = 0.0}), doctest::Contains("y_min 1 >= y_max 0"),
                       Error);
}

TEST_CASE("report svg: ROC chart and confusion matrix") {
  std::string svg = roc_chart_svg({{"0 vs 1,2,3", {0, 0.5, 1}, {0, 0.8, 1}, 0.8123}, {"other", {0, 1}, {0, 1}, {}}},
                                  {.title = "ROC", .size = 300});
  CHECK(contains(svg, "<path d=\"M0.0 300.0 L150.0 60.0 L300.0 0.0\""));
  CHECK(contains(svg, "stroke-dasharray=\"4 4\""));  // chance diagonal
  CHECK(contains(svg, "0 vs 1,2,3 (AUC 0.812)"));
  CHECK(contains(svg, ">other</text>"));
  CHECK(contains(svg, "false positive rate"));
  CHECK_THROWS_WITH_AS(roc_chart_svg({{"c", {0, 1.5}, {0, 1}, {}}}, {}),
                       doctest::Contains("curve 'c' point 1 (fpr 1.5, tpr 1) lies outside [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(roc_chart_svg({{"c", {0}, {0, 1}, {}}}, {}), doctest::Contains("1 fpr values and 2 tpr"), Error);

  std::string table = confusion_matrix_html({{50, 8, 2, 1}, {10, 25, 6, 3}, {0, 0, 0, 0}, {1, 2, 4, 9}},
                                            {"0", "1", "2", "<3>"}, "caption & more");
  CHECK(contains(table, "<caption>caption &amp; more</caption>"));
  CHECK(contains(table, "<th>&lt;3&gt;</th>"));
  // 50 of 61 in row 0: shaded at 50 / 61 = 0.820, white text, the diagonal marked.
  CHECK(contains(table,
                 "background:rgba(0,114,178,0.820);color:#fff\" class=\"diag\" title=\"50 of 61 (82.0%)\">50</td>"));
  CHECK(contains(table, "<td class=\"total\">61</td>"));
  CHECK(contains(table, "<td class=\"total\">0</td>"));  // an empty row is not a division by zero
  CHECK(count(table, "<td style=") == 16);
  CHECK_THROWS_WITH_AS(confusion_matrix_html({{1, 2}, {3}}, {"a", "b"}, "m"), doctest::Contains("row 1 has 1 columns"),
                       Error);
  CHECK_THROWS_WITH_AS(confusion_matrix_html({{1}}, {"a", "b"}, "m"), doctest::Contains("2 labels for 1 rows"), Error);
}

TEST_CASE("report fragment: only whitelisted markup survives") {
  CHECK(sanitize_fragment("<p>Mild <mark style=\"background:#fc0\" onclick=\"x()\">edema</mark>.</p>") ==
        "<p>Mild <mark style=\"background:#fc0\">edema</mark>.</p>");
  CHECK(sanitize_fragment("a<script>alert('<p>')</script>b<SCRIPT src=x></SCRIPT >c") == "abc");
  CHECK(sanitize_fragment("<img src=x onerror=alert(1)>text<a href=\"javascript:x\">link</a>") == "textlink");
  CHECK(sanitize_fragment("<span style=\"background:url(http://x/y.png)\">t</span>") == "<span>t</span>");
  CHECK(sanitize_fragment("<span style=\"background:&#117;rl(x)\">t</span>") == "<span>t</span>");  // decoded first
  CHECK(sanitize_fragment("<span data-weight=\"0.5\" title='a \"q\"'>t</span>") ==
        "<span data-weight=\"0.5\" title=\"a &quot;q&quot;\">t</span>");
  // Balanced: a stray close is dropped, open tags are closed, nothing can close the page's elements.
  CHECK(sanitize_fragment("</div></section><b>x") == "<b>x</b>");
  CHECK(sanitize_fragment("<div><span>x</div>y") == "<div><span>x</span></div>y");
  CHECK(sanitize_fragment("1 < 2 &amp; 3 > 2 &bogus; <!-- c --> &#x41;") == "1 &lt; 2 &amp; 3 &gt; 2 &amp;bogus;  A");
  CHECK(sanitize_fragment("x <span title=\"unterminated") == "x &lt;span title=&quot;unterminated");
  CHECK(sanitize_fragment("<br/><span/>z") == "<br><span></span>z");
  CHECK(sanitize_fragment("<!DOCTYPE html><html><head><title>T</title></head><body><h3>x</h3></body></html>") ==
        "<h3>x</h3>");
}

TEST_CASE("report fragment: random markup soup comes out balanced, inert and stable") {
  // Fragments spliced from HTML pieces (tags, broken tags, quotes, entities, handlers, bytes):
  // the output has no script or handler, its kept tags are balanced, and sanitizing it again
  // changes nothing.
  const std::vector<std::string> pieces = {"<span>",
                                           "</span>",
                                           "<mark style=\"background:#ff0\">",
                                           "</mark>",
                                           "<p>",
                                           "</p>",
                                           "<div class=x>",
                                           "</div>",
                                           "<br>",
                                           "<script>",
                                           "</script>",
                                           "<img src=x onerror=alert(1)>",
                                           "<a href='javascript:x'>",
                                           "</a>",
                                           "<!--",
                                           "-->",
                                           "<",
                                           ">",
                                           "\"",
                                           "'",
                                           "&amp;",
                                           "&#x3c;script&#x3e;",
                                           "&bogus",
                                           "text ",
                                           "\xc3\xa9",
                                           "\xff",
                                           "<style>",
                                           "</style>",
                                           "<b onclick=x>",
                                           "</b>",
                                           "<span title=\"a>b\">",
                                           "<svg><g>",
                                           "</svg>",
                                           "=",
                                           "/>",
                                           "<!x>"};
  Generator g(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::string soup;
    int n = static_cast<int>(g.integer(g.reserve(1), 1, 24));
    uint64_t first = g.reserve(static_cast<uint64_t>(n));
    for (int k = 0; k < n; ++k)
      soup += pieces[static_cast<size_t>(g.integer(first + static_cast<uint64_t>(k), 0, int64_t(pieces.size())))];
    std::string clean = sanitize_fragment(soup);
    INFO("input: ", soup);
    INFO("output: ", clean);
    CHECK(sanitize_fragment(clean) == clean);
    std::string lower = clean;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK_FALSE(contains(lower, "<script"));
    CHECK_FALSE(contains(lower, "<img"));
    CHECK_FALSE(contains(lower, "<svg"));
    CHECK_FALSE(contains(lower, "<a "));
    CHECK_FALSE(std::regex_search(lower, std::regex("<[^>]*\\son[a-z]+=")));
    // Balanced: every kept element that opens also closes, in nesting order.
    std::vector<std::string> stack;
    std::smatch m;
    bool balanced = true;
    for (auto it = clean.cbegin(); std::regex_search(it, clean.cend(), m, std::regex("<(/?)([a-z0-9]+)[^>]*>"));
         it = m[0].second) {
      std::string name = m[2];
      if (name == "br" || name == "hr") continue;
      if (m[1].length() == 0) {
        stack.push_back(name);
      } else if (stack.empty() || stack.back() != name) {
        balanced = false;
        break;
      } else {
        stack.pop_back();
      }
    }
    CHECK(balanced);
    CHECK(stack.empty());
  }
}

TEST_CASE("report: a training run renders summary, curves, metrics with CIs, ROC, confusion, explanations") {
  TempDir tmp("report_run");
  fs::path run = tmp.path / "run1";
  write_run(run, {});
  std::string html = render_report(run.string());
  CHECK(html == render_report(run.string()));  // deterministic
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(contains(html, "<title>cxr report: run1 (joint, resnet256_6_2_1, edema)</title>"));
  for (const char* id : {"summary", "training", "evaluation", "explanations"})
    CHECK(contains(html, std::string("<h3 id=\"") + id + "\">"));
  // Summary: config fields, options, training facts.
  CHECK(contains(html, "<tr><th>arch</th><td>resnet256_6_2_1</td></tr>"));
  CHECK(contains(html, "<tr><th>batch_size</th><td>8</td></tr>"));
  CHECK(contains(html, "<tr><th>epochs completed</th><td>2</td></tr>"));
  CHECK(contains(html, "<tr><th>training time</th><td>1 min 32 s</td></tr>"));  // 92 s, the last epoch's elapsed_s
  CHECK(contains(html, "Learning rate constant at 0.0005."));
  // Curves: loss, loss terms, validation.
  CHECK(contains(html, "<title>Training loss</title>"));
  CHECK(contains(html, "<title>Loss terms (smoothed)</title>"));
  CHECK(contains(html, "<title>Validation metrics</title>"));
  CHECK(contains(html, "data-series=\"epoch mean training loss\""));
  // Metrics with 95% CIs, an undefined AUC as n/a.
  CHECK(contains(html, "<th>95% CI</th>"));
  CHECK(contains(html,
                 "0 vs 1,2,3 <code>auc_0v123</code></td><td class=\"num\">0.812</td><td class=\"num ci\">[0.741, "
                 "0.880]</td>"));
  CHECK(contains(html, "<code>auc_1v2</code></td><td class=\"num\"><span class=\"na\">n/a</span>"));
  CHECK(contains(html, "precision 0,1 vs 2,3 <code>precision_01v23</code></td><td class=\"num\">0.375</td>"));
  CHECK(html.find("<code>macro_f1</code>") < html.find("<code>precision_01v23</code>"));
  CHECK(contains(html, "n = 141 · class counts 61 / 44 / 20 / 16 · 95% CIs from 1000 bootstrap replicates"));
  CHECK(contains(html, "0 vs 1,2,3 (AUC 0.812)"));
  CHECK(contains(html, "<td class=\"total\">61</td>"));
  CHECK(count(html, "class=\"chart\"") == 4);  // loss, loss terms, validation, ROC (ordinal)
  // The Grad-CAM PNG as a data URI that decodes back to the file's bytes.
  std::smatch m;
  REQUIRE(std::regex_search(html, m,
                            std::regex("<img src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\" width=\"8\" "
                                       "height=\"6\"")));
  CHECK(base64_decode(m[1].str()) == read_bytes((run / "explain/s1_gradcam.png").string()));
  // The attention fragments, sanitized: the highlight stays, the script and the handler do not.
  CHECK(contains(html, "<mark style=\"background:rgba(255,0,0,0.6)\">interstitial edema</mark> &amp; small"));
  // cxr explain's standalone page reduced to its body; the Grad-CAM facts from <id>_gradcam.json.
  CHECK(contains(html,
                 "<h3>s2.txt</h3>\n<div style=\"white-space: pre-wrap\">No <span title=\"edema: 0.4000\" "
                 "style=\"background-color: rgba(255, 140, 0, 1); border-radius: 2px\">edema</span>.</div>"));
  CHECK(contains(html, "<p>Text head (softmax): class 0: <b>0.700</b>, class 1: 0.300</p>"));
  CHECK_FALSE(contains(html, "[CLS] attention</title>"));
  CHECK(count(html, "<body>") == 1);
  CHECK(contains(html,
                 "<p class=\"cam\">Grad-CAM at layer6 for class 2 · softmax 0.100 / 0.200 / <b>0.600</b> / "
                 "0.100 · input s1.png</p>"));
  CHECK_FALSE(contains(html, "pwned"));
  CHECK_FALSE(contains(html, "src=x"));
  // Self-contained: nothing refers outside the page.
  CHECK_FALSE(std::regex_search(html, std::regex("(src|href)=\"(https?:|//|file:)")));
  CHECK(contains(html, "Content-Security-Policy\" content=\"default-src 'none'; img-src data:"));
}

TEST_CASE("report: hostile strings in names, tasks and metrics are escaped") {
  TempDir tmp("report_hostile");
  fs::path run = tmp.path / "run<b>x";
  write_run(run, {.task = kHostileScript, .explain = false});
  // A metric named with markup, and one whose ROC curve carries it too.
  json e = json::parse(read_bytes((run / "eval-test.json").string()));
  e["metrics"][kHostileImg] = metric(0.5, 0.4, 0.6);
  e["roc"][kHostileImg] = {{"fpr", {0, 1}}, {"tpr", {0, 1}}};
  write_bytes((run / "eval-test.json").string(), e.dump());
  std::string html = render_report(run.string(), {.title = "T <i>"});
  CHECK_FALSE(contains(html, kHostileScript));
  CHECK_FALSE(contains(html, "<img src=x"));
  CHECK_FALSE(contains(html, "<b>x"));
  CHECK(contains(html, "<title>T &lt;i&gt;</title>"));
  CHECK(contains(html, "&lt;script&gt;document.documentElement.dataset.pwned=1&lt;/script&gt;"));
  CHECK(contains(html, "run&lt;b&gt;x"));
  CHECK(contains(html, "&quot;&gt;&lt;img src=x onerror="));
  // Every <script> in the page is one of the report's own two.
  CHECK(count(html, "<script") == 2);
}

TEST_CASE("report: experiment table in the METHODS.md section 12 layout, runs with problems shown as warnings") {
  TempDir tmp("report_experiment");
  write_experiment(tmp.path);
  std::string html = render_report(tmp.path.string());
  CHECK(html == render_report(tmp.path.string()));
  CHECK(contains(html, "<p>Labeled fraction: 10.0%</p>"));
  std::string edema = between(html, "<h3 id=\"task-edema\">edema</h3>", "</table>");
  // Columns: the three ordinal AUCs and macro-F1 (not auc_0v1), each with CPC and MINE sub-columns.
  CHECK(contains(edema,
                 "<th colspan=\"2\" title=\"auc_0v123\">0 vs 1,2,3</th><th colspan=\"2\" "
                 "title=\"auc_01v23\">0,1 vs 2,3</th><th colspan=\"2\" title=\"auc_012v3\">0,1,2 vs 3</th><th "
                 "colspan=\"2\" title=\"macro_f1\">macro-F1</th>"));
  CHECK(count(edema, ">CPC</th>") == 4);
  CHECK(count(edema, ">MINE</th>") == 4);
  CHECK_FALSE(contains(edema, "auc_0v1\""));
  // Rows in §12's order whatever table.json's order.
  size_t image = edema.find("<tr><th>image-only</th><td>n/a</td>"),
         global = edema.find("<tr><th>global-mi</th><td>frozen</td>"),
         local = edema.find("<tr><th>local-mi</th><td>tuned</td>");
  REQUIRE(image != std::string::npos);
  REQUIRE(global != std::string::npos);
  REQUIRE(local != std::string::npos);
  CHECK(image < global);
  CHECK(global < local);
  // image-only has one value spanning CPC/MINE; global-mi has CPC then MINE; values link to the run.
  CHECK(contains(edema,
                 "<td colspan=\"2\"><a href=\"#run-image-only-edema\" title=\"runs/./image-only-edema/\"><span "
                 "class=\"v\">0.801</span> <span class=\"ci\">[0.731, 0.861]</span></a></td>"));
  std::string global_row = between(edema, "<tr><th>global-mi</th>", "</tr>");
  size_t cpc = global_row.find("0.811"), mine = global_row.find("0.832");
  CHECK(cpc != std::string::npos);
  CHECK(mine != std::string::npos);
  CHECK(cpc < mine);
  // Findings: its own columns, one bound (MINE) present, a row without a run has no link.
  std::string findings = between(html, "<h3 id=\"task-findings\">findings</h3>", "</table>");
  CHECK(contains(findings, ">Cardiomegaly</th>"));
  CHECK(contains(findings, ">mean AUC</th>"));
  CHECK(contains(findings, "<tr><th>global-mi</th><td>tuned</td><td><span class=\"v\">0.810</span>"));
  // ROC comparison per task: one curve per run that has one.
  CHECK(contains(html, "<title>ROC, edema: 0 vs 1,2,3 (test)</title>"));
  std::string comparison = between(html, "<title>ROC, edema: 0 vs 1,2,3 (test)</title>", "</svg>\n</div>");
  CHECK(count(comparison, "<g class=\"series\"") == 3);
  CHECK(contains(comparison, "global-mi / frozen / MINE (AUC 0.832)"));
  // Every run has a section; the missing and the broken one carry a warning naming the problem.
  for (const char* id : {"run-image-only-edema", "run-global-mi-dv-frozen-edema", "run-global-mi-infonce-frozen-edema",
                         "run-image-only-findings", "run-local-mi-dv-tuned-edema", "run-local-mi-infonce-tuned-edema"})
    CHECK(contains(html, std::string("<section class=\"run\" id=\"") + id + "\">"));
  CHECK(count(html, "<section class=\"run\"") == 6);  // runs/./image-only-edema/ is not a second run
  std::string missing = between(html, "id=\"run-local-mi-infonce-tuned-edema\">", "</section>");
  CHECK(contains(missing, "class=\"warning\">This run could not be read: the run directory"));
  std::string broken = between(html, "id=\"run-local-mi-dv-tuned-edema\">", "</section>");
  CHECK(contains(broken, "local-mi-dv-tuned-edema/eval-test.json: invalid JSON"));
  CHECK(contains(html, "<strong>2 could not be read</strong>"));
  // Strict: the first problem is an error naming it.
  CHECK_THROWS_WITH_AS(render_report(tmp.path.string(), {.strict = true}),
                       doctest::Contains("local-mi-dv-tuned-edema/eval-test.json: invalid JSON"), Error);
}

TEST_CASE("report: missing parts are noted, malformed files are errors naming the file") {
  TempDir tmp("report_errors");
  fs::path only_log = tmp.path / "only_log";
  write_run(only_log, {.config = false, .eval = false, .explain = false});
  std::string html = render_report(only_log.string());
  CHECK(contains(html, "No config.json: the run&#39;s options are not shown."));
  CHECK(contains(html, "No eval-*.json: the run has not been evaluated."));
  CHECK(contains(html, "No explain/ directory"));
  CHECK(contains(html, "<title>Training loss</title>"));

  // An incomplete last line of metrics.jsonl (a run killed while writing) is a note; a bad line
  // in the middle is an error with its line number.
  std::string log = read_bytes((only_log / "metrics.jsonl").string());
  write_bytes((only_log / "metrics.jsonl").string(), log + "{\"event\": \"step\", \"st");
  CHECK(contains(render_report(only_log.string()), "line 9 of metrics.jsonl is incomplete"));
  write_bytes((only_log / "metrics.jsonl").string(),
              "{\"event\": \"step\", \"step\": 1, \"loss\": 1}\nnot json\n" + log);
  CHECK_THROWS_WITH_AS(render_report(only_log.string()), doctest::Contains("metrics.jsonl:2: invalid JSON"), Error);
  write_bytes((only_log / "metrics.jsonl").string(), "{\"event\": \"step\", \"step\": 1, \"loss\": \"low\"}\n");
  CHECK_THROWS_WITH_AS(render_report(only_log.string()),
                       doctest::Contains("metrics.jsonl:1: loss: expected a number or null, got string"), Error);

  fs::path run = tmp.path / "run";
  write_run(run, {});
  write_bytes((run / "config.json").string(), "{\"method\": 3}");
  CHECK_THROWS_WITH_AS(render_report(run.string()), doctest::Contains("config.json: method: expected a string"), Error);
  write_run(run, {});
  json e = json::parse(read_bytes((run / "eval-test.json").string()));
  e["roc"]["auc_0v123"]["tpr"] = {0, 1};
  write_bytes((run / "eval-test.json").string(), e.dump());
  CHECK_THROWS_WITH_AS(render_report(run.string()),
                       doctest::Contains("eval-test.json: roc.auc_0v123: fpr has 4 points but tpr has 2"), Error);
  e["roc"]["auc_0v123"]["tpr"] = {0, 0.5, 0.9, 1};
  e["confusion"][1] = {1, 2};
  write_bytes((run / "eval-test.json").string(), e.dump());
  CHECK_THROWS_WITH_AS(render_report(run.string()), doctest::Contains("eval-test.json: confusion: row 1 has 2 columns"),
                       Error);
  write_run(run, {});
  write_bytes((run / "explain/s1_gradcam.png").string(), tiny_png().substr(0, 40));
  CHECK_THROWS_WITH_AS(render_report(run.string()), doctest::Contains("s1_gradcam.png"), Error);
  write_run(run, {});
  write_bytes((run / "explain/s1_gradcam.json").string(), "{\"target\": \"two\"}");
  CHECK_THROWS_WITH_AS(render_report(run.string()), doctest::Contains("s1_gradcam.json: target: expected an integer"),
                       Error);
  write_run(run, {});
  write_bytes((run / "explain/s1_gradcam.png").string(), "GIF89a....");
  CHECK_THROWS_WITH_AS(render_report(run.string()), doctest::Contains("s1_gradcam.png: not a PNG file"), Error);

  fs::create_directories(tmp.path / "empty");
  CHECK_THROWS_WITH_AS(render_report((tmp.path / "empty").string()), doctest::Contains("not a run directory"), Error);
  CHECK_THROWS_WITH_AS(render_report((tmp.path / "nope").string()), doctest::Contains("nope: not a directory"), Error);
  write_bytes((tmp.path / "empty/table.json").string(),
              "{\"rows\": [{\"method\": \"m\", \"task\": \"t\", \"run\": \"../x\"}]}");
  CHECK_THROWS_WITH_AS(render_report((tmp.path / "empty").string()),
                       doctest::Contains("table.json: rows[0]: run path '../x' must be relative"), Error);
  CHECK_THROWS_WITH_AS(render_report(run.string(), {.digits = 11}), doctest::Contains("digits 11"), Error);
}

TEST_CASE("cxr report: writes the page atomically, errors exit 2 naming the file") {
  TempDir tmp("report_cli");
  fs::path run = tmp.path / "run";
  write_run(run, {});
  std::string out = tmp.file("out/report.html");
  fs::create_directories(tmp.path / "out");
  CliResult r = run_cxr("report --run '" + run.string() + "' --out '" + out + "' --digits 2", tmp);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(contains(r.err, "cxr report: wrote"));
  CHECK(read_bytes(out) == render_report(run.string(), {.digits = 2}));
  CHECK(std::distance(fs::directory_iterator(tmp.path / "out"), fs::directory_iterator()) == 1);  // no temporary left

  r = run_cxr("report --help", tmp);
  CHECK(r.status == 0);
  CHECK(contains(r.out, "--run"));
  CHECK(contains(r.out, "Content-Security-Policy"));

  write_bytes((run / "config.json").string(), "{");
  r = run_cxr("report --run '" + run.string() + "' --out '" + out + "'", tmp);
  CHECK(r.status == 2);
  CHECK(contains(r.err, "config.json: invalid JSON"));
  CHECK(read_bytes(out).rfind("<!DOCTYPE html>", 0) == 0);  // the old page is still whole
  r = run_cxr("report --run '" + tmp.file("missing") + "' --out '" + out + "'", tmp);
  CHECK(r.status != 0);
  CHECK(contains(r.err, "missing"));
}

TEST_CASE("cxr report: the page loads in headless Chromium, images decode, no script error, no injection") {
  const char* chromium_env = std::getenv("CXR_CHROMIUM");  // another browser binary, e.g. chromium elsewhere
  const std::string chromium = chromium_env && *chromium_env ? chromium_env : "/usr/bin/chromium";
  if (access(chromium.c_str(), X_OK) != 0) {
    skip_test(chromium + " is absent (Debian: apt-get install chromium), so the browser check did not run");
    return;
  }
  TempDir tmp("report_chromium");
  write_experiment(tmp.path / "exp");
  // A hostile task name in one run's files, to see that nothing executes in a real browser.
  write_run(tmp.path / "exp/runs/zz-hostile", {.task = kHostileScript + kHostileImg});
  std::string html = render_report((tmp.path / "exp").string());
  std::string page = tmp.file("report.html");
  write_bytes(page, html);
  fs::create_directories(tmp.path / "profile");
  std::string cmd = "timeout -k 5 60 " + chromium +
                    " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                    " --no-default-browser-check --disable-extensions --disable-background-networking"
                    " --user-data-dir='" +
                    tmp.file("profile") + "' --dump-dom 'file://" + page + "' > '" + tmp.file("dom.html") + "' 2> '" +
                    tmp.file("chromium.log") + "'";
  int status = std::system(cmd.c_str());
  std::string dom = read_bytes(tmp.file("dom.html"));
  // Chromium's log without the D-Bus complaints of a machine without a session bus.
  std::string log;
  std::istringstream lines(read_bytes(tmp.file("chromium.log")));
  for (std::string line; std::getline(lines, line) && log.size() < 4000;)
    if (!contains(line, "dbus")) log += line + "\n";
  INFO("chromium exit status ", status, "; stderr:\n", log);
  REQUIRE_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "chromium failed or timed out");
  // The <html> element as Chromium serializes it carries what the page's scripts recorded.
  std::smatch root;
  REQUIRE(std::regex_search(dom, root, std::regex("<html[^>]*>")));
  std::string attributes = root.str();
  INFO("<html> in the DOM: ", attributes);
  CHECK(contains(attributes, "data-report-loaded=\"1\""));
  CHECK_FALSE(contains(attributes, "data-script-errors"));
  CHECK_FALSE(contains(attributes, "data-pwned"));
  CHECK(contains(html, "pwned"));  // the payloads are in the page, as text
  size_t images = count(html, "<img src=\"data:image/png;base64,");
  CHECK(images == 4);  // s1 of image-only-edema, global-mi-dv-frozen-edema, image-only-findings, zz-hostile
  CHECK(contains(attributes, "data-images=\"" + std::to_string(images) + "\""));
  CHECK(contains(attributes, "data-images-broken=\"0\""));
  // Every chart is an SVG element in the DOM.
  size_t charts = count(html, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"");
  CHECK(charts > 10);
  CHECK(contains(attributes, "data-charts=\"" + std::to_string(charts) + "\""));
  CHECK(count(dom, "<svg") >= charts);
}
