// make_seeds.cpp — writes the seed corpus of every fuzz harness into DIR/<harness>/ (committed as
// tests/fuzz/corpus/; `tools/fuzz.sh seeds` reruns it). Every seed comes from this project's own
// writers (encode_png, DCMTK as tests/test_dicom.cpp uses it, write_safetensors, write_manifest,
// the phantom report writer, the run-directory JSON writers) or is written out here by hand; none is
// taken from elsewhere. Seeds are small (a few hundred bytes each) so the corpus stays in KBs.
// Inputs of harnesses whose first byte selects a mode start with that byte.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image.h"
#include "data/manifest.h"
#include "data/phantom.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/models/bert.h"
#include "ops/ops.h"
#include "runs/run_config.h"
#include "runs/run_dir.h"
#include "tensor/file_io.h"
#include "tensor/safetensors.h"
#include "train/options.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>

using namespace cxr;
namespace fs = std::filesystem;

namespace {

std::string out_dir;

void seed(const std::string& harness, const std::string& name, const std::string& bytes) {
  fs::create_directories(out_dir + "/" + harness);
  write_file_atomic(out_dir + "/" + harness + "/" + name, bytes);
}

std::string selected(int selector, const std::string& bytes) { return std::string(1, char(selector)) + bytes; }

Tensor ramp(int64_t h, int64_t w, int64_t c, int top) {
  Tensor t = empty(c == 1 ? Shape{h, w} : Shape{h, w, c});
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = float((i * 37 + i / 3) % (top + 1));
  return t;
}

void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

// A PNG's chunks as fuzz_image_png.cpp reads them: type, 16-bit little-endian length, data.
std::string png_records(const std::string& png) {
  std::string out;
  for (size_t i = 8; i + 12 <= png.size();) {
    const auto* p = reinterpret_cast<const unsigned char*>(png.data() + i);
    const size_t len = size_t(p[0]) << 24 | size_t(p[1]) << 16 | size_t(p[2]) << 8 | p[3];
    out += png.substr(i + 4, 4);
    out += char(len & 0xFF);
    out += char(len >> 8);
    out += png.substr(i + 8, len);
    i += 12 + len;
  }
  return out;
}

void image_seeds() {
  const std::vector<std::pair<std::string, std::string>> pngs = {
      {"gray8.png", data::encode_png(ramp(6, 5, 1, 255), 8)},
      {"gray16.png", data::encode_png(ramp(4, 7, 1, 65535), 16)},
      {"graya8.png", data::encode_png(ramp(3, 3, 2, 255), 8)},
      {"rgb8.png", data::encode_png(ramp(4, 4, 3, 255), 8)},
      {"rgba16.png", data::encode_png(ramp(2, 3, 4, 65535), 16)}};
  for (const auto& [name, png] : pngs) {
    seed("image_decode", name, png);
    seed("image_png", name + ".records", png_records(png));
  }
  std::vector<unsigned char> px(8 * 8 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 7);
  std::string jpg;
  stbi_write_jpg_to_func(append_to_string, &jpg, 8, 8, 3, px.data(), 80);
  seed("image_decode", "rgb8.jpg", jpg);
  std::string gray_jpg;
  stbi_write_jpg_to_func(append_to_string, &gray_jpg, 8, 8, 1, px.data(), 50);
  seed("image_decode", "gray8.jpg", gray_jpg);
}

void dicom_seed(const std::string& name, int rows, int cols, int bits_allocated, int bits_stored, bool is_signed,
                const char* photometric, bool rle) {
  DcmFileFormat ff;
  DcmDataset* ds = ff.getDataset();
  ds->putAndInsertString(DCM_SOPClassUID, UID_DigitalXRayImageStorageForPresentation);
  ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.2.1143.1");
  ds->putAndInsertString(DCM_Modality, "DX");
  ds->putAndInsertUint16(DCM_Rows, Uint16(rows));
  ds->putAndInsertUint16(DCM_Columns, Uint16(cols));
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, photometric);
  ds->putAndInsertUint16(DCM_BitsAllocated, Uint16(bits_allocated));
  ds->putAndInsertUint16(DCM_BitsStored, Uint16(bits_stored));
  ds->putAndInsertUint16(DCM_HighBit, Uint16(bits_stored - 1));
  ds->putAndInsertUint16(DCM_PixelRepresentation, is_signed ? 1 : 0);
  std::vector<Uint16> words(size_t(rows * cols));
  for (size_t i = 0; i < words.size(); ++i) words[i] = Uint16((i * 37 + 5) % (1u << bits_stored));
  if (bits_allocated == 16) {
    ds->putAndInsertUint16Array(DCM_PixelData, words.data(), words.size());
  } else {
    std::vector<Uint8> bytes(words.begin(), words.end());
    ds->putAndInsertUint8Array(DCM_PixelData, bytes.data(), bytes.size());
  }
  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  if (rle) {
    DcmRLEEncoderRegistration::registerCodecs();
    if (ds->chooseRepresentation(EXS_RLELossless, nullptr).good()) xfer = EXS_RLELossless;
  }
  const std::string tmp = out_dir + "/dicom.tmp";
  if (ff.saveFile(tmp.c_str(), xfer).bad()) fail("make_seeds: cannot write ", tmp);
  seed("dicom", name, read_file(tmp));
  fs::remove(tmp);
}

void safetensors_seeds() {
  nn::Sequential model;
  model.push_back(std::make_shared<nn::Linear>(3, 2));
  model.push_back(std::make_shared<nn::BatchNorm1d>(2));
  const std::string tmp = out_dir + "/st.tmp";
  nn::save_checkpoint(model, tmp);
  seed("safetensors", "linear_bn.safetensors", read_file(tmp));
  std::map<std::string, Tensor> prefixed;
  for (auto& [k, v] : model.state_dict()) prefixed["model." + k] = v;
  prefixed["extra.flag"] = full({2}, 1.0, {.dtype = DType::Bool});
  write_safetensors(tmp, prefixed, {{"note", "prefixed"}});
  seed("safetensors", "prefixed.safetensors", read_file(tmp));
  fs::remove(tmp);
  // A hand-written file with an F16 and a BF16 tensor (read-only dtypes).
  const std::string header =
      R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]}})";
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += char((header.size() >> (8 * i)) & 0xFF);
  bytes += header + std::string("\x00\x3c\x00\xc0\x80\x3f", 6);
  seed("safetensors", "half.safetensors", bytes);
}

void manifest_seeds() {
  data::Manifest m;
  m.extra_columns = {"view"};
  for (int i = 0; i < 3; ++i) {
    data::ManifestRow r;
    r.id = "p1000000" + std::to_string(i) + "_s1";
    r.image = "images/" + r.id + ".png";
    r.report = i == 1 ? "reports/s1.txt" : "IMPRESSION: No acute process.";
    r.patient_id = "1000000" + std::to_string(i % 2);
    r.study_id = std::to_string(5000 + i);
    r.split = i == 2 ? "test" : "train";
    r.edema = i - 1;
    r.chexpert[size_t(i)] = 1, r.chexpert[5] = -1, r.chexpert[10] = 0;
    r.extra["view"] = i ? "PA" : "AP, \"erect\"";
    m.rows.push_back(r);
  }
  const std::string tmp = out_dir + "/manifest.tmp";
  data::write_manifest(tmp, m);
  seed("manifest", "three_rows.csv", read_file(tmp));
  fs::remove(tmp);
}

void text_seeds() {
  // CSV: the first byte picks the delimiter (0 ',', 1 ';', 2 tab, 3 '|') and +4 allows ragged rows.
  seed("csv", "quoted.csv", selected(0, "id,text,n\r\na,\"x, \"\"y\"\"\nz\",1\r\nb,,2\r\n"));
  seed("csv", "tabs_bom.csv", selected(2, "\xEF\xBB\xBFid\tvalue\nx\t1\n\ny\t2"));
  seed("csv", "ragged.csv", selected(4, "a,b,c\n1\n2,3,,\n"));
  // Reports: the phantom generator's (MIMIC style), and IU / free-form ones by hand.
  std::vector<std::string> reports;
  for (const data::PhantomImage& img : data::plan_phantoms(4, 7)) reports.push_back(data::write_phantom_report(img));
  reports.push_back(
      "FINDINGS: The heart is mildly enlarged. There is mild pulmonary vascular congestion without frank "
      "interstitial edema. No pleural effusion or pneumothorax.\nIMPRESSION: Cardiomegaly with mild vascular "
      "congestion; cannot exclude early edema.\n");
  reports.push_back(
      "EXAMINATION: CHEST (PA AND LAT)\r\nINDICATION: ___ with dyspnea\r\nPORTABLE AP CHEST:\r\nMarked alveolar "
      "edema and bilateral effusions, worse since the prior study. Pacemaker leads terminate in the right "
      "ventricle.\r\nRECOMMENDATION(S): Follow-up.");
  for (size_t i = 0; i < reports.size(); ++i) {
    const std::string name = "report" + std::to_string(i) + ".txt";
    seed("report_sections", name, reports[i]);
    seed("edema_labeler", name, selected(int(i % 2), reports[i]));
    seed("findings_labeler", name, reports[i]);
    seed("wordpiece", name, selected(int(i * 37 % 256), reports[i]));
  }
  seed("edema_labeler", "keywords.tsv",
       selected(0, "pulmonary_edema_severity\tkeyword_terms\n1\tvascular congestion\n3\talveolar edema\r\n"));
  seed("findings_labeler", "phrases.tsv",
       "# observation, kind, pattern\nCardiomegaly\tmention\tcardiomegaly\nCardiomegaly\tnegative\theart size ... "
       "normal\nPleural Effusion\tmention\teffusion*\nOther\tignore\tpericardial effusion\n");
  seed("negex", "negated.txt", selected(0, "No evidence of pulmonary edema or effusion.\npulmonary edema"));
  seed("negex", "post.txt", selected(3, "Pneumonia is ruled out, but atelectasis persists.\npneumonia"));
  seed("negex", "triggers.txt", selected(1, "no\t\t[PREN]\nruled out\t\t[POST]\nbut\t\t[CONJ]\nno increase\t\t[PSEU]\n"));
  seed("wordpiece", "unicode.txt", selected(0, "Caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 na\xc3\xafve (2.5 cm) \t\x01 edema!"));
  seed("wordpiece", "long_word.txt", selected(9, std::string(130, 'a') + " normal hearts"));
  seed("vocab", "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nno\nedema\n##s\n.\n");
  seed("vocab", "crlf_dup.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nno\r\nno\r\n\r\nlast");
  // HTML fragments: `cxr explain`'s highlighting style, and hostile markup.
  seed("html_sanitizer", "highlight.html",
       "<p>No <mark class=\"hl\" style=\"background: rgba(255,0,0,0.4)\" title=\"0.83\">edema</mark>.</p><br/>"
       "<span data-weight=\"0.1\">heart &amp; lungs &#x2014; &nbsp;ok</span>");
  seed("html_sanitizer", "hostile.html",
       "<html><head><title>t</title><script>alert(1)</script></head><body><img src=x onerror=alert(1)>"
       "<a href=\"javascript:x\">link</a><div style=\"background:url(x)\">d</div><!-- c --><svg><g/></svg>"
       "</b></div><ul><li>open");
}

void json_seeds() {
  // fuzz_json_config: 0 bert_config.json, 1 config.json, 2 state/trainer.json.
  nn::BertConfig bert;
  bert.vocab_size = 100, bert.hidden_size = 8, bert.num_hidden_layers = 1, bert.num_attention_heads = 2;
  bert.intermediate_size = 16;
  seed("json_config", "bert_config.json", selected(0, bert.to_json()));
  train::TrainOptions o;
  o.method = "image", o.arch = "resnet128_6_2_1", o.manifest = "data/manifest.csv", o.out = "run";
  runs::RunConfig c;
  c.method = "image", c.arch = "resnet128_6_2_1", c.task = "edema", c.num_outputs = 4, c.seed = 3;
  c.manifest = "/data/manifest.csv";
  c.options = o;
  seed("json_config", "config.json", selected(1, run_config_json(c).dump(1)));
  c.has_text_model = true;
  c.text_model.bert_config = "text/bert_config.json", c.text_model.vocab = "text/vocab.txt";
  seed("json_config", "config_text.json", selected(1, run_config_json(c).dump()));
  seed("json_config", "trainer.json",
       selected(2, R"({"epoch": 2, "step": 14, "metrics_bytes": 1234, "elapsed_s": 3.5, "best_score": 0.75,
                       "best_epoch": 1, "generators": {"loader": [3, 128], "dropout": [4, 0]}})"));
  // fuzz_runs: 0 metrics.jsonl, 1 eval, 2 config listing, 3 gradcam, 4 table, 5 metrics + report.
  const std::string metrics =
      R"({"event":"step","epoch":1,"step":1,"loss":1.25,"lr":0.001,"elapsed_s":0.5,"parts":{"ce":1.25}})"
      "\n"
      R"({"event":"epoch","epoch":1,"step":7,"train_loss":1.1,"val":{"auc_macro":0.7,"accuracy":null},"elapsed_s":1.5})"
      "\n"
      R"({"event":"stop","reason":"non-finite loss","step":8,"detail":"loss is nan"})"
      "\n";
  seed("runs", "metrics.jsonl", selected(0, metrics));
  seed("runs", "metrics_cut.jsonl", selected(0, metrics + R"({"event":"step","epoch":2,"st)"));
  seed("runs", "eval.json",
       selected(1, R"({"split":"test","task":"edema","kind":"ordinal","n":20,"class_counts":[5,5,5,5],
         "metrics":{"auc_macro":{"value":0.81,"ci_low":0.7,"ci_high":0.9},"accuracy":0.5,"auc_0":null},
         "roc":{"0":{"fpr":[0,0.5,1],"tpr":[0,0.8,1]},"1":null},"confusion":[[3,2],[1,4]],
         "bootstrap":{"replicates":100,"level":0.95}})"));
  seed("runs", "config.json", selected(2, run_config_json(c).dump()));
  seed("runs", "gradcam.json",
       selected(3, R"({"input":"a.png","layer":"layer6","target":2,"probability_kind":"softmax",
                       "probabilities":[0.1,null,0.6,0.3]})"));
  seed("runs", "table.json",
       selected(4, R"({"labeled_fraction":0.5,"tasks":["edema"],"rows":[{"method":"joint","encoder":"bert",
         "bound":"mine","task":"edema","run":"runs/joint-mine","metrics":{"auc_macro":{"value":0.8}}},
         {"method":"image","task":"edema","metrics":{"auc_macro":0.7}}]})"));
  seed("runs", "report_metrics.jsonl", selected(5, metrics));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR  (writes OUT_DIR/<harness>/<seed>)\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  try {
    image_seeds();
    dicom_seed("mono2_12bit.dcm", 6, 5, 16, 12, false, "MONOCHROME2", false);
    dicom_seed("mono1_signed.dcm", 4, 4, 16, 16, true, "MONOCHROME1", false);
    dicom_seed("gray8.dcm", 3, 5, 8, 8, false, "MONOCHROME2", false);
    dicom_seed("rle.dcm", 4, 6, 16, 10, false, "MONOCHROME2", true);
    safetensors_seeds();
    manifest_seeds();
    text_seeds();
    json_seeds();
  } catch (const Error& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
