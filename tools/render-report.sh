#!/usr/bin/env bash
# Renders RUN_DIR/report.html (written by dev.align4j.report.ReportWriter) to a full-page PNG with headless
# Chromium, to look at a report without a browser or to check that its plots show data.
#   tools/render-report.sh RUN_DIR [OUT_PNG]      (default OUT_PNG: RUN_DIR/report.png)
# The page height is measured first (a copy of the page with a one-line script that puts
# document.documentElement.scrollHeight into the title, read back with --dump-dom; the report itself has no
# script), then the screenshot is taken with a 1280-wide window that tall. Environment: CHROMIUM (binary),
# REPORT_WIDTH (default 1280), REPORT_MAX_HEIGHT (default 30000).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 RUN_DIR [OUT_PNG]" >&2
  exit 2
fi
run_dir=$1
html=$run_dir/report.html
if [ ! -f "$html" ]; then
  echo "render-report: $html does not exist (generate it with: ./align4j report $run_dir)" >&2
  exit 2
fi
out=${2:-$run_dir/report.png}
width=${REPORT_WIDTH:-1280}
max_height=${REPORT_MAX_HEIGHT:-30000}

chromium=${CHROMIUM:-}
if [ -z "$chromium" ]; then
  for c in chromium chromium-browser google-chrome; do
    if command -v "$c" >/dev/null 2>&1; then chromium=$(command -v "$c"); break; fi
  done
fi
if [ -z "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "render-report: chromium not found; installing Debian's chromium with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
    chromium=$(command -v chromium)
  else
    echo "render-report: chromium not found. Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chrome" >&2
    exit 2
  fi
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case "$out" in /*) abs_out=$out ;; *) abs_out=$PWD/$out ;; esac
mkdir -p "$(dirname "$abs_out")"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --no-default-browser-check
       --disable-extensions --user-data-dir="$tmp/profile" --force-device-scale-factor=1)

# 1. page height at this width
sed 's#</body>#<script>document.title="pageheight:"+document.documentElement.scrollHeight+":"</script></body>#' "$abs_html" > "$tmp/measure.html"
height=$("$chromium" "${flags[@]}" --window-size="$width",1000 --virtual-time-budget=2000 --dump-dom "file://$tmp/measure.html" 2>/dev/null \
         | grep -o 'pageheight:[0-9]*:' | head -1 | sed 's/[^0-9]//g' || true)
if [ -z "$height" ]; then
  echo "render-report: could not measure the page height; using 8000" >&2
  height=8000
fi
height=$((height + 16))
if [ "$height" -gt "$max_height" ]; then
  echo "render-report: page is ${height}px tall; the screenshot stops at $max_height (REPORT_MAX_HEIGHT)" >&2
  height=$max_height
fi

# 2. the screenshot
"$chromium" "${flags[@]}" --window-size="$width,$height" --screenshot="$abs_out" "file://$abs_html" >"$tmp/log" 2>&1 || {
  cat "$tmp/log" >&2
  exit 1
}
if [ ! -s "$abs_out" ]; then
  cat "$tmp/log" >&2
  echo "render-report: chromium wrote no screenshot" >&2
  exit 1
fi
echo "$abs_out (${width}x${height})"
