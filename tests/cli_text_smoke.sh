#!/bin/sh
# cli_text_smoke.sh CXR — the text commands end to end on a made-up corpus: cxr vocab, a 3-step
# cxr pretrain-text, cxr embed-text --sentences. Checks exit codes and the files/lines produced.
set -eu
CXR="$1"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
printf 'uid,findings,impression\n1,"Heart size normal. Lungs are clear.",No acute disease.\n2,Small left effusion.,"Effusion, small."\n3,,Normal chest.\n4,Mild cardiomegaly. No edema.,Cardiomegaly.\n' > "$DIR/r.csv"
"$CXR" vocab --size 120 --out "$DIR/vocab.txt" "$DIR/r.csv"
test "$(head -1 "$DIR/vocab.txt")" = "[PAD]"
"$CXR" pretrain-text --vocab "$DIR/vocab.txt" --out "$DIR/run" --layers 1 --hidden 16 --heads 2 --ffn 32 \
  --max-position 64 --max-seq-length 32 --steps 3 --batch-size 2 --heldout 0.25 --log-every 1 "$DIR/r.csv"
for f in model.safetensors bert_config.json vocab.txt train_log.tsv heldout.txt; do test -s "$DIR/run/$f"; done
test "$(wc -l < "$DIR/run/train_log.tsv")" -eq 4
printf 'Heart size normal. Lungs are clear.\n' > "$DIR/a.txt"
"$CXR" embed-text --checkpoint "$DIR/run" --sentences "$DIR/a.txt" > "$DIR/out.jsonl"
test "$(wc -l < "$DIR/out.jsonl")" -eq 1
grep -q '"sentences":\[{"text":"Heart size normal."' "$DIR/out.jsonl"
"$CXR" embed-text --checkpoint "$DIR/run/model.safetensors" --lines "$DIR/r.csv" > "$DIR/rows.jsonl"
test "$(wc -l < "$DIR/rows.jsonl")" -eq 4
if "$CXR" embed-text --checkpoint "$DIR/run" --vocab "$DIR/r.csv" "$DIR/a.txt" 2>/dev/null; then exit 1; fi
echo "cli_text_smoke: ok"
