// label.cpp — `cxr label`: turns radiology reports into labels.
//   cxr label edema    [--keywords DIR] [--triggers FILE] [--sections] [--negex-window N] --out labels.csv REPORT...
//   cxr label findings [--phrases FILE] [--triggers FILE] [--whole-report] [--numeric-missing] [--mentions FILE]
//                      --out labels.csv REPORT...
//   cxr label findings-eval --iu-reports indiana_reports.csv [--errors errors.csv]
// REPORT is a text file (one report per file) or a directory of them; --csv FILE --text-columns
// a,b [--id-column ID] reads reports from CSV columns instead (each column becomes a section
// "A: value\n", which for findings,impression is exactly the IU composition of DATA.md).
// Algorithms: text/edema.h, text/findings.h, docs/LABELER.md.
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "apps/command.h"
#include "tensor/error.h"
#include "text/csv.h"
#include "text/edema.h"
#include "text/findings.h"
#include "text/findings_eval.h"
#include "text/report.h"

namespace cxr::apps {

namespace {

struct InputOptions {
  std::vector<std::string> reports;
  std::string csv;
  std::vector<std::string> text_columns;
  std::string id_column;
  bool raw_text = false;
};

void add_input_options(CLI::App& sub, InputOptions& in) {
  sub.add_option("reports", in.reports, "report files (one report per file) or directories of them");
  sub.add_option("--csv", in.csv, "read the reports from this CSV file instead")->check(CLI::ExistingFile);
  sub.add_option("--text-columns", in.text_columns,
                 "with --csv: the columns holding the report; each becomes a section 'COLUMN: value\\n'")
      ->delimiter(',');
  sub.add_option("--id-column", in.id_column, "with --csv: the column naming each report (default: the row number)");
  sub.add_flag("--raw-text", in.raw_text, "with --csv and one text column: use its value as it is, without a header");
}

// The input reports, validated up front (paths expanded, CSV parsed and its columns found) so that
// nothing is written when the arguments are wrong; the files themselves are read one at a time.
class ReportSource {
 public:
  ReportSource(const InputOptions& in, const char* command) : in_(in), command_(command) {
    CXR_CHECK(in.csv.empty() != in.reports.empty(), command, ": give report files/directories or --csv, not both");
    if (in.csv.empty()) {
      paths_ = text::expand_report_paths(in.reports);
      return;
    }
    CXR_CHECK(!in.text_columns.empty(), command, ": --csv needs --text-columns");
    CXR_CHECK(!in.raw_text || in.text_columns.size() == 1, command, ": --raw-text takes exactly one text column");
    table_ = text::read_csv(in.csv);
    for (const auto& c : in.text_columns) {
      int i = table_.column(c);
      CXR_CHECK(i >= 0, in.csv, ": no column '", c, "'");
      cols_.push_back(i);
      std::string header = c;
      for (char& ch : header) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      headers_.push_back(header + ": ");
    }
    if (!in.id_column.empty()) {
      id_ = table_.column(in.id_column);
      CXR_CHECK(id_ >= 0, in.csv, ": no column '", in.id_column, "'");
    }
  }

  // Calls fn(id, text) for every report; a report file that cannot be read is reported on stderr
  // and skipped. Returns the number of such failures.
  template <typename Fn>
  int for_each(Fn&& fn) const {
    if (!in_.csv.empty()) {
      for (size_t r = 0; r < table_.rows.size(); ++r) {
        const auto& row = table_.rows[r];
        std::string text;
        if (in_.raw_text) {
          text = row[cols_[0]];
        } else {
          for (size_t k = 0; k < cols_.size(); ++k) text += headers_[k] + row[cols_[k]] + "\n";
        }
        fn(id_ >= 0 ? row[id_] : std::to_string(r + 1), text);
      }
      return 0;
    }
    int failed = 0;
    for (const std::string& path : paths_) {
      std::string text;
      try {
        text = text::read_report_file(path);
      } catch (const Error& e) {
        std::fprintf(stderr, "cxr label %s: %s (skipped)\n", command_, e.what());
        ++failed;
        continue;
      }
      fn(std::filesystem::path(path).filename().string(), text);
    }
    return failed;
  }

 private:
  const InputOptions& in_;
  const char* command_;
  std::vector<std::string> paths_;
  text::CsvTable table_;
  std::vector<int> cols_;
  std::vector<std::string> headers_;
  int id_ = -1;
};

// The output stream: a file, or stdout for "-".
struct Output {
  std::ofstream file;
  std::ostream* out = nullptr;
  std::string path;
  explicit Output(const std::string& p) : path(p) {
    if (p == "-") {
      out = &std::cout;
    } else {
      file.open(p, std::ios::binary);
      CXR_CHECK(file.good(), p, ": cannot write the output CSV");
      out = &file;
    }
  }
  void finish() {
    out->flush();
    CXR_CHECK(out->good(), path, ": error while writing the output CSV");
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// ---- cxr label edema ----
struct EdemaArgs {
  InputOptions in;
  std::string keywords, triggers, out;
  bool sections = false;
  int window = 0;
  bool quiet = false;
};

int run_edema(const EdemaArgs& a) {
  text::EdemaKeywords keywords =
      a.keywords.empty() ? text::EdemaKeywords::project_default() : text::EdemaKeywords::load_dir(a.keywords);
  text::Negex negex = a.triggers.empty() ? text::Negex::project_default() : text::Negex::load(a.triggers);
  text::EdemaOptions options;
  options.sections_only = a.sections;
  options.negex.window = a.window;
  text::EdemaLabeler labeler(std::move(keywords), std::move(negex), options);

  ReportSource source(a.in, "edema");
  Output out(a.out);
  text::write_csv_row(*out.out, {"report", "label", "affirmed", "negated", "mentioned", "keywords"});
  auto t0 = std::chrono::steady_clock::now();
  int n = 0;
  int counts[5] = {0, 0, 0, 0, 0};  // label -1..3
  int failed = source.for_each([&](const std::string& id, const std::string& report) {
    text::EdemaResult r = labeler.label(report);
    text::write_csv_row(*out.out, {id, std::to_string(r.label), std::to_string(r.affirmed), std::to_string(r.negated),
                                   std::to_string(r.mentioned), join(r.keywords, ";")});
    ++n;
    ++counts[r.label + 1];
  });
  out.finish();
  double s = seconds_since(t0);
  if (!a.quiet)
    std::fprintf(stderr,
                 "cxr label edema: %d reports in %.3f s (%.0f reports/s): %d unlabelled, %d/%d/%d/%d with label "
                 "0/1/2/3%s\n",
                 n, s, s > 0 ? n / s : 0.0, counts[0], counts[1], counts[2], counts[3], counts[4],
                 failed ? (", " + std::to_string(failed) + " unreadable").c_str() : "");
  return failed ? kExitSomeInputsFailed : kExitOk;
}

// ---- cxr label findings ----
struct FindingsArgs {
  InputOptions in;
  std::string phrases, triggers, out, mentions;
  bool whole_report = false;
  bool numeric_missing = false;
  bool quiet = false;
};

text::FindingsLabeler make_findings_labeler(const std::string& phrases, const std::string& triggers, bool whole) {
  text::FindingsOptions options;
  options.sections_only = !whole;
  return text::FindingsLabeler(
      phrases.empty() ? text::FindingsPhrases::project_default() : text::FindingsPhrases::load(phrases),
      triggers.empty() ? text::Negex::project_default() : text::Negex::load(triggers), options);
}

int run_findings(const FindingsArgs& a) {
  text::FindingsLabeler labeler = make_findings_labeler(a.phrases, a.triggers, a.whole_report);
  ReportSource source(a.in, "findings");
  Output out(a.out);
  std::vector<std::string> header = {"report"};
  for (auto name : text::kObservationNames) header.emplace_back(name);
  text::write_csv_row(*out.out, header);
  std::unique_ptr<Output> mentions;
  if (!a.mentions.empty()) {
    mentions = std::make_unique<Output>(a.mentions);
    text::write_csv_row(*mentions->out, {"report", "observation", "value", "phrase", "text"});
  }
  auto t0 = std::chrono::steady_clock::now();
  int n = 0;
  std::array<int, text::kNumObservations> positives{};
  int failed = source.for_each([&](const std::string& id, const std::string& report) {
    text::FindingsResult r = labeler.label(report);
    std::vector<std::string> row = {id};
    for (int o = 0; o < text::kNumObservations; ++o) {
      int v = r.labels[o];
      row.push_back(v == text::kNotMentioned ? (a.numeric_missing ? "-2" : "") : std::to_string(v));
      positives[o] += v == text::kPositive;
    }
    text::write_csv_row(*out.out, row);
    if (mentions)
      for (const auto& m : r.mentions)
        text::write_csv_row(*mentions->out,
                            {id,
                             m.observation < text::kNumObservations ? std::string(text::kObservationNames[m.observation])
                                                                    : "Other",
                             std::to_string(m.value), m.phrase, m.text});
    ++n;
  });
  out.finish();
  if (mentions) mentions->finish();
  double s = seconds_since(t0);
  if (!a.quiet) {
    std::fprintf(stderr, "cxr label findings: %d reports in %.3f s (%.0f reports/s); positives:", n, s,
                 s > 0 ? n / s : 0.0);
    for (int o = 0; o < text::kNumObservations; ++o)
      std::fprintf(stderr, "%s %s %d", o ? "," : "", std::string(text::kObservationNames[o]).c_str(), positives[o]);
    std::fprintf(stderr, "%s\n", failed ? (", " + std::to_string(failed) + " unreadable").c_str() : "");
  }
  return failed ? kExitSomeInputsFailed : kExitOk;
}

// ---- cxr label findings-eval ----
struct EvalArgs {
  std::string iu_reports, phrases, triggers, errors;
};

int run_findings_eval(const EvalArgs& a) {
  text::FindingsLabeler labeler = make_findings_labeler(a.phrases, a.triggers, false);
  text::CsvTable iu = text::read_csv(a.iu_reports);
  auto t0 = std::chrono::steady_clock::now();
  text::FindingsEvaluation e = text::evaluate_findings_on_iu(iu, labeler);
  double s = seconds_since(t0);
  std::printf("%s", text::findings_evaluation_markdown(e).c_str());
  std::fprintf(stderr, "cxr label findings-eval: %d reports evaluated (%d 'No Indexing' left out) in %.3f s\n",
               e.reports, e.excluded, s);
  if (!a.errors.empty()) {
    Output out(a.errors);
    text::write_csv_row(*out.out, {"uid", "observation", "error", "MeSH", "findings || impression"});
    for (const auto& err : e.errors)
      text::write_csv_row(*out.out, {err.uid, std::string(text::kObservationNames[err.observation]),
                                     err.false_positive ? "false positive" : "false negative", err.mesh, err.text});
    out.finish();
  }
  return kExitOk;
}

// `cxr label`: its three subcommands; returns the function that runs the one given.
CommandRun setup_label_command(CLI::App& label) {
  label.require_subcommand(1);

  auto edema = std::make_shared<EdemaArgs>();
  CLI::App* e = label.add_subcommand(
      "edema", "pulmonary edema severity (0-3) with the reference's regex + NegEx labeler (METHODS.md section 2)");
  add_input_options(*e, edema->in);
  e->add_option("--keywords", edema->keywords,
                "directory with keywords_{affirmed,negated,mentioned}.tsv (default: the project's own lists)")
      ->check(CLI::ExistingDirectory);
  e->add_option("--triggers", edema->triggers, "NegEx trigger file (default: the project's own list)")
      ->check(CLI::ExistingFile);
  e->add_option("--out", edema->out, "output CSV (report,label,affirmed,negated,mentioned,keywords); - for stdout")
      ->required();
  e->add_flag("--sections", edema->sections,
              "label only Findings/Impression/Conclusion/Recommendation (else Final Report); off in the reference");
  e->add_option("--negex-window", edema->window, "limit NegEx scopes to N tokens (0 = unlimited, the reference)")
      ->check(CLI::NonNegativeNumber);
  e->add_flag("--quiet", edema->quiet, "no summary line on stderr");

  auto findings = std::make_shared<FindingsArgs>();
  CLI::App* f = label.add_subcommand(
      "findings", "the 14 CheXpert observations: 1 positive, 0 negative, -1 uncertain, blank not mentioned");
  add_input_options(*f, findings->in);
  f->add_option("--phrases", findings->phrases, "phrase list (default: the project's text/data/findings/phrases.tsv)")
      ->check(CLI::ExistingFile);
  f->add_option("--triggers", findings->triggers, "NegEx trigger file (default: the project's own list)")
      ->check(CLI::ExistingFile);
  f->add_option("--out", findings->out, "output CSV (report + the 14 observations); - for stdout")->required();
  f->add_flag("--whole-report", findings->whole_report,
              "label the whole text, not only Findings/Impression/Conclusion/Recommendation (else Final Report)");
  f->add_option("--mentions", findings->mentions,
                "also write every mention found (report, observation, value, phrase, matched text) to this CSV");
  f->add_flag("--numeric-missing", findings->numeric_missing, "write -2 instead of a blank for 'not mentioned'");
  f->add_flag("--quiet", findings->quiet, "no summary line on stderr");

  auto eval = std::make_shared<EvalArgs>();
  CLI::App* v = label.add_subcommand(
      "findings-eval", "measure the findings labeler against the IU MeSH annotations (prints the docs/LABELER.md table)");
  v->add_option("--iu-reports", eval->iu_reports, "indiana_reports.csv (uid, MeSH, ..., findings, impression)")
      ->required()
      ->check(CLI::ExistingFile);
  v->add_option("--phrases", eval->phrases, "phrase list (default: the project's)")->check(CLI::ExistingFile);
  v->add_option("--triggers", eval->triggers, "NegEx trigger file (default: the project's)")->check(CLI::ExistingFile);
  v->add_option("--errors", eval->errors, "also write every disagreement to this CSV");

  return [e, edema, f, findings, v, eval]() -> int {
    if (e->parsed()) return run_edema(*edema);
    if (f->parsed()) return run_findings(*findings);
    if (v->parsed()) return run_findings_eval(*eval);
    return kExitFatal;
  };
}

const CommandRegistration kLabelCommand("label", "label radiology reports: edema severity, CheXpert-style findings",
                                        setup_label_command);

}  // namespace

}  // namespace cxr::apps
