#!/usr/bin/env bash
# Benchmarks that print figures (they assert nothing): needs the same setup as the tests.
#   npm run bench                  every benchmark in bench/
#   npm run bench -- fleet 10:1    one of them (bench/fleet.mts), with its arguments
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_toolchain
bash "$REPO_ROOT/scripts/testhost.sh" start --hosts 2 >/dev/null
cd "$REPO_ROOT" && npm run --silent build
if [ $# -gt 0 ]; then
  b="bench/$1.mts"; shift
  [ -f "$b" ] || die "no benchmark $b (there are: $(cd bench && ls -- *.mts | tr '\n' ' '))"
  log "$b $*"; node "$b" "$@"
else
  for b in bench/*.mts; do log "$b"; node "$b"; done
fi
