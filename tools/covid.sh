#!/usr/bin/env bash
# covid.sh — `make covid`: the methods on real image–text pairs, ../shared/data/covid-cxr (frontal
# chest X-rays with clinical notes; docs/RESULTS.md holds a run's output and what it means):
#   import with patient-level splits, findings labelled from the notes -> a text encoder
#   pretrained on the IU radiology reports -> MI pretraining on every image–note pair -> frozen and
#   tuned fine-tuning against image-only, on the expert opacity score (78 images; the geographic
#   extent score is nearly the same ranking, add `score:geographic_extent` to --tasks for it) and
#   the note-derived findings, with bootstrap CIs.
# Variables: CXR, COVID_DIR (output, default covid/), SHARED (default ../shared/data), THREADS.
set -euo pipefail

CXR=${CXR:-build/cxr}
OUT=${COVID_DIR:-covid}
SHARED=${SHARED:-../shared/data}
THREADS=${THREADS:-2}
TEXT_STEPS=${COVID_TEXT_STEPS:-800}
PRETRAIN_STEPS=${COVID_PRETRAIN_STEPS:-400}
DOWNSTREAM_STEPS=${COVID_DOWNSTREAM_STEPS:-150}
SEQ=128

[ -f "$SHARED/covid-cxr/metadata.csv" ] || { echo "covid.sh: $SHARED/covid-cxr/metadata.csv not found (set SHARED)"; exit 2; }
mkdir -p "$OUT"
start=$(date +%s)
step() { printf '\n== [%4ds] %s\n' $(( $(date +%s) - start )) "$*"; }

step "1/5 manifest: frontal images, notes as reports, patient-level splits, findings from the notes"
"$CXR" import covid --metadata "$SHARED/covid-cxr/metadata.csv" --out "$OUT/manifest.csv" --seed 0 \
  --test-fraction 0.25 --val-fraction 0.1 --label-findings --unmentioned-negative

step "2/5 text encoder: WordPiece vocabulary and masked-LM pretraining on the IU reports"
IU="$SHARED/iu-reports/indiana_reports.csv"
[ -f "$OUT/vocab.txt" ] || "$CXR" vocab --size 3000 --out "$OUT/vocab.txt" "$IU"
[ -f "$OUT/bert/model.safetensors" ] || "$CXR" pretrain-text --vocab "$OUT/vocab.txt" --out "$OUT/bert" \
  --layers 2 --hidden 128 --heads 2 --ffn 512 --max-position 160 --max-seq-length "$SEQ" \
  --steps "$TEXT_STEPS" --batch-size 32 --lr 2e-3 --log-every 200 "$IU"

step "3/5 MI pretraining on all image-note pairs, fine-tuning, image-only: severity scores and findings"
"$CXR" experiment --manifest "$OUT/manifest.csv" --text-init "$OUT/bert" --out "$OUT/experiment" \
  --tasks score:opacity findings --bounds infonce dv \
  --arch resnet128_6_2_1 --resize 128 --no-augment --max-seq-length "$SEQ" \
  --pretrain-max-steps "$PRETRAIN_STEPS" --downstream-max-steps "$DOWNSTREAM_STEPS" --downstream-batch-size 16 \
  --bootstrap 1000 --threads "$THREADS" --progress 0 > "$OUT/experiment.log.md"

step "4/5 the HTML report"
"$CXR" report --run "$OUT/experiment" --out "$OUT/report.html"

step "5/5 done in $(( $(date +%s) - start ))s: $OUT/report.html"
cat "$OUT/experiment/table.md"
