#!/usr/bin/env bash
# demo.sh — `make demo`: the whole pipeline on the built-in synthetic dataset, at a scale that runs
# in about 15 minutes on 2 cores (docs/RESULTS.md holds a run's output):
#   phantoms -> report labels (edema, findings) -> WordPiece vocabulary -> masked-LM text encoder
#   -> the METHODS.md §12 experiment (MI pretraining, frozen / tuned fine-tuning, image-only)
#   -> the HTML report -> the table on stdout.
# Variables: CXR (the binary), DEMO_DIR (output, default demo/), DEMO_N (images), THREADS, plus the
# scale knobs below. Every step is a documented cxr command, so the demo is also a script to copy.
set -euo pipefail

CXR=${CXR:-build/cxr}
OUT=${DEMO_DIR:-demo}
N=${DEMO_N:-1200}
THREADS=${THREADS:-2}
SIZE=128
ARCH=resnet128_6_2_1
LABELED=${DEMO_LABELED_FRACTION:-0.25}
TEXT_STEPS=${DEMO_TEXT_STEPS:-600}
PRETRAIN_STEPS=${DEMO_PRETRAIN_STEPS:-300}
DOWNSTREAM_STEPS=${DEMO_DOWNSTREAM_STEPS:-150}
SEQ=96

mkdir -p "$OUT"
start=$(date +%s)
step() { printf '\n== [%4ds] %s\n' $(( $(date +%s) - start )) "$*"; }

step "1/8 synthetic chest X-rays with reports: $N images at ${SIZE}px"
[ -f "$OUT/phantoms/manifest.csv" ] || "$CXR" phantom --n "$N" --seed 1 --size "$SIZE" --out "$OUT/phantoms" --threads "$THREADS"

step "2/8 labels from the reports (regex + NegEx edema severity; CheXpert findings)"
"$CXR" label edema --out "$OUT/edema_labels.csv" "$OUT/phantoms/reports"
"$CXR" label findings --out "$OUT/findings_labels.csv" "$OUT/phantoms/reports"

step "3/8 WordPiece vocabulary from the reports"
[ -f "$OUT/vocab.txt" ] || "$CXR" vocab --size 1000 --out "$OUT/vocab.txt" "$OUT/phantoms/reports"

step "4/8 masked-LM pretraining of a small text encoder ($TEXT_STEPS steps)"
[ -f "$OUT/bert/model.safetensors" ] || "$CXR" pretrain-text --vocab "$OUT/vocab.txt" --out "$OUT/bert" \
  --layers 2 --hidden 128 --heads 2 --ffn 512 --max-position 128 --max-seq-length "$SEQ" \
  --steps "$TEXT_STEPS" --batch-size 32 --lr 2e-3 --log-every 100 "$OUT/phantoms/reports"

step "5/8 the experiment table (METHODS.md §12): MI pretraining, fine-tuning, image-only"
"$CXR" experiment --manifest "$OUT/phantoms/manifest.csv" --text-init "$OUT/bert" --out "$OUT/experiment" \
  --arch "$ARCH" --labeled-fraction "$LABELED" --max-seq-length "$SEQ" --no-augment \
  --edema-labels "$OUT/edema_labels.csv" --findings-labels "$OUT/findings_labels.csv" \
  --pretrain-max-steps "$PRETRAIN_STEPS" --downstream-max-steps "$DOWNSTREAM_STEPS" --downstream-batch-size 32 \
  --bootstrap 500 --threads "$THREADS" --progress 0 > "$OUT/experiment.log.md"

step "6/8 explanations: Grad-CAM on a test image per edema level; [CLS] attention on their reports"
IMAGES=() REPORTS=()
for level in 0 1 2 3; do
  # manifest columns: id,image,report,patient_id,study_id,split,edema,...
  row=$(awk -F, -v l="$level" 'NR > 1 && $6 == "test" && $7 == l { print $2 " " $3; exit }' "$OUT/phantoms/manifest.csv")
  [ -n "$row" ] || continue
  IMAGES+=("$OUT/phantoms/${row%% *}") REPORTS+=("$OUT/phantoms/${row##* }")
done
"$CXR" explain --checkpoint "$OUT/experiment/runs/local-mi-infonce-tuned-edema" "${IMAGES[@]}"
"$CXR" explain --checkpoint "$OUT/experiment/runs/image-only-edema" "${IMAGES[@]}"
"$CXR" explain --checkpoint "$OUT/experiment/runs/local-mi-infonce" "${REPORTS[@]}"

step "7/8 the HTML report"
"$CXR" report --run "$OUT/experiment" --out "$OUT/report.html"

step "8/8 done in $(( $(date +%s) - start ))s: $OUT/report.html"
cat "$OUT/experiment/table.md"
