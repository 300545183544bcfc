#!/usr/bin/env bash
# Builds the Debian package build/pkg/cvgen_<version>_<arch>.deb (preset "package": the libraries
# and the CLI, optimised, for /usr) with CPack from the install rules. Depends are computed by
# dpkg-shlibdeps. Installs what it needs first (scripts/setup.sh is idempotent).
#   bash scripts/package.sh            then: sudo apt-get install ./build/pkg/cvgen_*.deb
# Env: CVGEN_SKIP_SETUP=1 skips setup.sh (CI has just run it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${CVGEN_SKIP_SETUP:-0}" != "1" ]; then
    bash scripts/setup.sh
fi
cmake --preset package >/dev/null
cmake --build --preset package
rm -f build/pkg/cvgen_*.deb
cpack --preset package >/dev/null
deb=(build/pkg/cvgen_*.deb)
[ -f "${deb[0]}" ] || { echo "package: cpack made no .deb" >&2; exit 1; }
echo "package: ${deb[0]}"
dpkg-deb -f "${deb[0]}" Package Version Architecture Depends Recommends
