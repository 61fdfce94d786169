#!/usr/bin/env bash
# Runs every test tier from a fresh clone: installs what is missing (Node 22, npm dependencies, the
# pinned Pulumi CLI, the local libvirt test host), lints, builds, then runs unit, integration and
# end-to-end tests with vitest and prints the summary. Extra arguments go to vitest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_toolchain
log "node $(node --version), pulumi $(pulumi version), Node.js language host: $(command -v pulumi-language-nodejs || echo "none (inline programs only)")"
ensure_virt_firmware  # an independent reader of NVRAM files for the tests
bash "$REPO_ROOT/scripts/testhost.sh" start --hosts 2 >/dev/null  # a second host for host moves
log "test host: $(tr -d '\n ' < "$REPO_ROOT/.testhost/testhost.json")"
cd "$REPO_ROOT"
log "build and lint (scripts and benchmarks type-check against the build)"
npm run --silent lint
report="$(mktemp)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"
