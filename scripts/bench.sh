#!/usr/bin/env bash
# Benchmarks that print figures (they assert nothing): needs the same setup as the tests.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_toolchain
bash "$REPO_ROOT/scripts/testhost.sh" start >/dev/null
cd "$REPO_ROOT" && npm run --silent build
for b in bench/*.mts; do log "$b"; node "$b"; done
