#!/usr/bin/env bash
# Builds the Debian package build/dev/package/cvgen_<version>_<arch>.deb with CPack from the
# install rules of the dev build (`cpack --preset deb`): the release binaries the tests run
# against, installed under /usr. Depends are computed by dpkg-shlibdeps. Installs what it needs
# first (scripts/setup.sh is idempotent); builds the dev tree (a no-op after scripts/test.sh).
#   bash scripts/package.sh      then: sudo apt-get install -y ./build/dev/package/cvgen_*.deb
# Env: CVGEN_SKIP_SETUP=1 skips setup.sh (CI has just run it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${CVGEN_SKIP_SETUP:-0}" != "1" ]; then
    bash scripts/setup.sh
fi
cmake --preset dev >/dev/null
cmake --build --preset dev
rm -f build/dev/package/cvgen_*.deb
cpack --preset deb >/dev/null
deb=(build/dev/package/cvgen_*.deb)
[ -f "${deb[0]}" ] || { echo "package: cpack made no .deb" >&2; exit 1; }
echo "package: ${deb[0]}"
dpkg-deb -f "${deb[0]}" Package Version Architecture Depends Recommends
