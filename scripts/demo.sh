#!/usr/bin/env bash
# The main job: batch outpainting of the bundled sample photos to 1920x1080 with the offline
# engine (no key, no network). Outputs, the report and a contact sheet land in out/demo/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target cvgen
out="${1:-out/demo}"
exec ./build/dev/apps/cvgen/cvgen batch samples/data "$out" --op expand --target 1920x1080 \
    --report "$out/report.jsonl"
