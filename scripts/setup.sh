#!/usr/bin/env bash
# Idempotent machine setup for cvgen on Debian 12 (bookworm), run as root (or with sudo available).
#  - installs exactly the Debian packages that are missing (apt-get update only when needed);
#  - extracts the four sample photos from Debian's python3-skimage package into samples/data/
#    without installing that package (apt-get download + dpkg-deb -x).
# Safe to run any number of times; does nothing when everything is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

PACKAGES=(
    build-essential cmake pkg-config ninja-build
    libopencv-dev libopencv-contrib-dev
    rapidjson-dev libgtest-dev libgmock-dev libcurl4-openssl-dev libcpp-httplib-dev
    libcli11-dev libbenchmark-dev libssl-dev
    clang clang-format libclang-rt-14-dev
    curl openssl
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
