#!/usr/bin/env bash
# screenshot_report.sh — a PNG of an HTML report (`cxr report`) rendered by headless Chromium.
#   tools/screenshot_report.sh REPORT.html OUT.png [HEIGHT]
# The window is 1280 px wide and HEIGHT px tall (default 2400; the page below is cut off, a
# larger HEIGHT shows more). Chromium runs without sandbox or GPU, with a throw-away profile
# directory, and is killed after 120 s. Needs Debian's chromium (apt-get install chromium).
set -euo pipefail
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 REPORT.html OUT.png [HEIGHT]" >&2
  exit 2
fi
report=$1
out=$2
height=${3:-2400}
chromium=${CHROMIUM:-/usr/bin/chromium}
[[ -f "$report" ]] || { echo "$0: $report: no such file" >&2; exit 2; }
[[ "$height" =~ ^[0-9]+$ ]] || { echo "$0: HEIGHT must be a number of pixels, got '$height'" >&2; exit 2; }
[[ -x "$chromium" ]] || { echo "$0: $chromium not found (Debian: apt-get install chromium)" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs_report=$(realpath "$report")
abs_out=$(realpath -m "$out")
timeout -k 5 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --no-default-browser-check --disable-extensions --hide-scrollbars --user-data-dir="$profile" \
  --window-size="1280,$height" --screenshot="$abs_out" "file://$abs_report" 2>"$profile/chromium.log" || {
  echo "$0: chromium failed; its log:" >&2
  tail -20 "$profile/chromium.log" >&2
  exit 1
}
[[ -s "$abs_out" ]] || { echo "$0: chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
