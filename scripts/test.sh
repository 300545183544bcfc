#!/usr/bin/env bash
# Builds everything (library, CLI, tests, samples, benchmarks) and runs every test.
# Installs what it needs first (scripts/setup.sh is idempotent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cmake --preset dev >/dev/null
cmake --build --preset dev
ctest --preset dev
