#!/usr/bin/env bash
# Idempotent machine setup for cvgen on Debian 12 (bookworm), run as root (or with sudo available).
#  - installs exactly the Debian packages that are missing (apt-get update only when needed);
#  - extracts the four sample photos from Debian's python3-skimage package into samples/data/
#    without installing that package (apt-get download + dpkg-deb -x);
#  - removes the iCCP chunk (an sRGB profile libpng calls "known incorrect", printing a warning at
#    every decode) from the PNG photos, also from photos extracted by an earlier setup; the image
#    data chunks are copied byte for byte, so the pixels stay identical.
# Safe to run any number of times; does nothing when everything is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
    build-essential cmake pkg-config ninja-build
    libopencv-dev libopencv-contrib-dev libturbojpeg0-dev
    rapidjson-dev libgtest-dev libgmock-dev libcurl4-openssl-dev libcpp-httplib-dev
    libcli11-dev libbenchmark-dev libssl-dev
    clang clang-format libclang-rt-14-dev
    curl openssl python3-minimal
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "setup: not root and no sudo; install these yourself: ${PACKAGES[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

updated=0
apt_update() {
    if [ "$updated" -eq 0 ]; then
        $SUDO apt-get update -qq
        updated=1
    fi
}

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    # Try without an update first (fast when the lists are fresh); update and retry on failure.
    if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt_update
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
else
    echo "setup: all packages present"
fi

# --- sample photos ---------------------------------------------------------------------------
data="$here/samples/data"
photos=(astronaut.png coffee.png chelsea.png rocket.jpg)
need=0
for f in "${photos[@]}"; do [ -s "$data/$f" ] || need=1; done
if [ "$need" -eq 1 ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (
        cd "$tmp"
        # apt-get download runs unprivileged as _apt when it can; make the folder reachable.
        chmod 777 "$tmp"
        if ! apt-get download python3-skimage >/dev/null 2>&1; then
            apt_update
            apt-get download python3-skimage >/dev/null
        fi
        dpkg-deb -x python3-skimage_*.deb extracted
    )
    mkdir -p "$data"
    for f in "${photos[@]}"; do
        src="$(find "$tmp/extracted" -path "*skimage/data/$f" | head -n 1)"
        if [ -z "$src" ]; then
            echo "setup: $f not found in python3-skimage" >&2
            exit 1
        fi
        cp "$src" "$data/$f.tmp" && mv "$data/$f.tmp" "$data/$f"
    done
    echo "setup: sample photos in samples/data/"
fi

# --- the photos' colour profiles --------------------------------------------------------------
# astronaut.png and chelsea.png carry an sRGB ICC profile (an iCCP chunk) that libpng knows to be
# faulty: every decode prints "libpng warning: iCCP: known incorrect sRGB profile" (twice per photo
# in the demo). Replace that chunk by the standard sRGB chunk with the profile's rendering intent:
# the same colour space, declared without the faulty profile. Every other chunk (IHDR, IDAT, …) is
# copied byte for byte, so every decode (colour, unchanged, and libpng's grayscale conversion,
# which reads the colour space) gives identical pixels. Files without such a chunk are left
# alone: running setup again (or on photos extracted by an older setup) is safe.
pngs=()
for f in "${photos[@]}"; do
    if [[ "$f" == *.png ]]; then pngs+=("$data/$f"); fi
done
python3 - "${pngs[@]}" <<'PY'
import os, struct, sys, zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(SIGNATURE):
        sys.exit(f"setup: {path} is not a PNG file")
    out, pos, replaced = [SIGNATURE], len(SIGNATURE), False
    while pos < len(data):
        if pos + 12 > len(data):
            sys.exit(f"setup: {path}: truncated chunk at byte {pos}")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, end = data[pos + 4:pos + 8], pos + 12 + length  # length, type, data, CRC
        if end > len(data):
            sys.exit(f"setup: {path}: truncated chunk at byte {pos}")
        if kind == b"iCCP":
            # name, NUL, compression method (0 = zlib), compressed profile
            profile = zlib.decompress(data[pos + 8:end - 4].split(b"\0", 1)[1][1:])
            if b"sRGB" not in profile:
                out = None  # some other colour space: keep the file as it is
                break
            (intent,) = struct.unpack(">I", profile[64:68])  # ICC header: rendering intent
            out.append(chunk(b"sRGB", bytes([min(intent, 3)])))
            replaced = True
        else:
            out.append(data[pos:end])
        pos = end
    if out and replaced:
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(out))
        os.replace(tmp, path)
        print(f"setup: {os.path.basename(path)}: faulty sRGB ICC profile replaced by an sRGB chunk")
PY
