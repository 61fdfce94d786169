#!/usr/bin/env bash
# Builds the Pulumi CLI at exactly VERSION from Go modules into BIN_DIR, beside the Node.js
# dynamic-provider launcher the engine looks for. Usage: build-pulumi-cli.sh VERSION BIN_DIR
# The Go module and build caches stay where the machine keeps them (go env GOMODCACHE / GOCACHE),
# so a rebuild in a fresh clone is mostly a link step.
set -euo pipefail
version="${1:?version}"; bin="${2:?bin dir}"
command -v go >/dev/null || { echo "no Go toolchain on PATH: cannot build the Pulumi CLI v$version" >&2; exit 1; }

work="$(dirname "$bin")/build"
mkdir -p "$work" "$bin"
cd "$work"
# A wrapper module: pkg/v3's go.mod replaces atotto/clipboard, and replace directives only apply in the
# main module, so the wrapper must repeat it.
cat > go.mod <<MOD
module pulumi-ovmf.local/pulumi-cli-build

go 1.25.11

require (
	github.com/pulumi/pulumi/pkg/v3 v$version
	github.com/pulumi/pulumi/sdk/v3 v$version
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
start=$(date +%s)
echo "[pulumi-ovmf] building the Pulumi CLI v$version from Go modules (first time about 4 min on 2 cores with an empty Go cache, then seconds)" >&2
GOFLAGS=-mod=mod go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$version" 2> get.log || { cat get.log >&2; exit 1; }
go build -trimpath -o "$bin/pulumi" \
  -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

# The Node.js language host (what runs a `runtime: nodejs` project under plain `pulumi up`) is a
# separate, untagged module. The module proxy is asked first; when it does not serve it, it is built
# from its unmodified source beside the repository (../shared/third_party, see its README) against the
# served sdk/pkg modules of the same version. Without either, programs run as Automation API inline
# programs (scripts/pulumi-stack.mts), which need no language host.
lang="github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3"
lang_src="${PULUMI_OVMF_THIRD_PARTY:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/third_party}/pulumi-language-nodejs-v$version"
rm -f "$bin/pulumi-language-nodejs" "$bin/.no-language-host"
if GOFLAGS=-mod=mod go get "$lang@v$version" 2> lang.log && go build -trimpath -o "$bin/pulumi-language-nodejs" "$lang"; then
  echo "[pulumi-ovmf] built pulumi-language-nodejs from the module proxy" >&2
elif [ -f "$lang_src/main.go" ]; then
  langwork="$work/language-nodejs"
  rm -rf "$langwork"; mkdir -p "$langwork"
  cp "$lang_src"/go.mod "$lang_src"/go.sum "$lang_src"/*.go "$langwork/"
  chmod u+w "$langwork"/*
  (
    cd "$langwork"
    go mod edit -dropreplace=github.com/pulumi/pulumi/pkg/v3 -dropreplace=github.com/pulumi/pulumi/sdk/v3 \
      -require="github.com/pulumi/pulumi/pkg/v3@v$version" -require="github.com/pulumi/pulumi/sdk/v3@v$version"
    GOFLAGS="-mod=mod -buildvcs=false" go mod tidy
    GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -o "$bin/pulumi-language-nodejs" \
      -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" .
  ) > lang-src.log 2>&1 || { cat lang-src.log >&2; echo "[pulumi-ovmf] building pulumi-language-nodejs from $lang_src failed" >&2; exit 1; }
  echo "[pulumi-ovmf] built pulumi-language-nodejs from its source in $lang_src" >&2
else
  echo "[pulumi-ovmf] note: pulumi-language-nodejs is neither served by the module proxy ($(grep -m1 -o '4[0-9][0-9] [A-Za-z ]*' lang.log || head -c 200 lang.log)) nor in $lang_src; plain \`pulumi up\` cannot run nodejs projects, inline programs still work" >&2
  touch "$bin/.no-language-host"
fi

# The engine starts dynamic providers as the plugin `pulumi-resource-pulumi-nodejs`: run the program's
# own @pulumi/pulumi dynamic-provider entry point with the node on PATH.
cat > "$bin/pulumi-resource-pulumi-nodejs" <<'SH'
#!/bin/sh
script=$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider', { paths: [process.cwd()] }))") || exit 1
exec node "$script" "$@"
SH
chmod +x "$bin/pulumi-resource-pulumi-nodejs"
echo "[pulumi-ovmf] Pulumi CLI $("$bin/pulumi" version) ready in $bin after $(( $(date +%s) - start ))s ($(du -sh "$bin" | cut -f1) on disk)" >&2
