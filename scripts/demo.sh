#!/usr/bin/env bash
# The main job: batch outpainting of the bundled sample photos to 1920x1080 with the offline
# engine (no key, no network). Outputs, the report and a contact sheet land in out/demo/; the same
# job with --mode patch lands in out/demo/patch/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target cvgen
out="${1:-out/demo}"
cli=./build/dev/apps/cvgen/cvgen
"$cli" batch samples/data "$out" --op expand --target 1920x1080 --report "$out/report.jsonl"
# The same job with the patch fill (texture continued from the photo's border, fading into the
# blurred backdrop far from it), for a side-by-side look: out/demo/patch/.
"$cli" batch samples/data "$out/patch" --op expand --target 1920x1080 --mode patch \
    --report "$out/patch/report.jsonl"
