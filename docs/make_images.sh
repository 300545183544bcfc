#!/usr/bin/env bash
# Regenerates the README's before/after pictures (docs/images/*.jpg) from the demo's main job:
# the offline engine expanding the sample photos to 1920x1080 (default blur fill, and --mode
# patch beside it), shrunk with `cvgen upscale --scale` below 1 (Lanczos) so each JPEG stays
# small.
#   bash docs/make_images.sh [path/to/cvgen]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cli="${1:-build/dev/apps/cvgen/cvgen}"
work="out/readme-images"
rm -rf "$work"
"$cli" batch samples/data "$work" --op expand --target 1920x1080 --report none \
    --contact-sheet none -q
"$cli" batch samples/data "$work/patch" --op expand --target 1920x1080 --mode patch \
    --report none --contact-sheet none -q
mkdir -p docs/images
for stem in astronaut coffee chelsea rocket; do
    src=$(ls samples/data/"$stem".* | head -n1)
    # Before: the photo at half size; after: the 1920x1080 canvas at a quarter (480x270).
    "$cli" upscale "$src" "docs/images/${stem}_before.jpg" --scale 0.5 >/dev/null
    "$cli" upscale "$work/${stem}_1920x1080."* "docs/images/${stem}_after.jpg" --scale 0.25 >/dev/null
    "$cli" upscale "$work/patch/${stem}_1920x1080."* "docs/images/${stem}_patch.jpg" \
        --scale 0.25 >/dev/null
done
ls -l docs/images
