# Shared helpers for the project's scripts. Source it; it defines functions and sets no traps.
# Everything a script runs after `use_toolchain` sees Node >= 22 and the pinned Pulumi CLI first on PATH.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="22.23.3"
# Project-local tools (git-ignored): Node 22 when the machine's is older.
TOOLS_DIR="${PULUMI_OVMF_TOOLS_DIR:-$REPO_ROOT/.tools}"
# Machine-wide cache for things that are slow to build and identical across clones (the Pulumi CLI).
CACHE_DIR="${PULUMI_OVMF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-ovmf}"

log() { printf '\033[1m[pulumi-ovmf]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[pulumi-ovmf] error:\033[0m %s\n' "$*" >&2; exit 1; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# Puts a Node >= 22 first on PATH: the machine's if it is new enough, else one installed from the
# npm registry's `node` package (it ships the binary) into $TOOLS_DIR.
ensure_node() {
  if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then return 0; fi
  local dir="$TOOLS_DIR/node-$NODE_VERSION"
  if [ ! -x "$dir/node_modules/node/bin/node" ]; then
    command -v npm >/dev/null || die "npm is needed to install Node $NODE_VERSION (apt-get install npm)"
    log "machine Node is $(node --version 2>/dev/null || echo missing); installing Node $NODE_VERSION into $dir"
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --no-save --no-package-lock --prefix "$dir" "node@$NODE_VERSION" >/dev/null \
      || die "could not install node@$NODE_VERSION from the npm registry"
  fi
  export PATH="$dir/node_modules/node/bin:$PATH"
  [ "$(node_major node)" -ge 22 ] || die "Node on PATH is $(node --version), need >= 22"
}

# The @pulumi/pulumi version the lockfile pins; the CLI must match it exactly.
pulumi_sdk_version() {
  node -e 'const l=require(process.argv[1]);process.stdout.write(l.packages["node_modules/@pulumi/pulumi"].version)' \
    "$REPO_ROOT/package-lock.json"
}

# Where the unmodified source of the Node.js language host lives when the module proxy lacks it.
THIRD_PARTY_DIR="${PULUMI_OVMF_THIRD_PARTY:-$(cd "$REPO_ROOT/.." && pwd)/shared/third_party}"

# Puts the Pulumi CLI of exactly the SDK's version first on PATH, with its Node.js language host and
# the dynamic-provider launcher beside it (building them if needed).
ensure_pulumi() {
  local version; version="$(pulumi_sdk_version)"
  if command -v pulumi >/dev/null && [ "$(pulumi version 2>/dev/null)" = "v$version" ] \
     && command -v pulumi-resource-pulumi-nodejs >/dev/null && command -v pulumi-language-nodejs >/dev/null; then
    return 0
  fi
  local bin="$CACHE_DIR/pulumi-v$version/bin"
  # The language host may be missing on purpose (no source anywhere): rebuild only once its source appears.
  local lang_missing=false
  if [ ! -x "$bin/pulumi-language-nodejs" ] && { [ ! -f "$bin/.no-language-host" ] || [ -d "$THIRD_PARTY_DIR/pulumi-language-nodejs-v$version" ]; }; then
    lang_missing=true
  fi
  if [ ! -x "$bin/pulumi" ] || [ ! -x "$bin/pulumi-resource-pulumi-nodejs" ] || $lang_missing; then
    PULUMI_OVMF_THIRD_PARTY="$THIRD_PARTY_DIR" bash "$REPO_ROOT/scripts/build-pulumi-cli.sh" "$version" "$bin" || die "building the Pulumi CLI v$version failed"
  fi
  export PATH="$bin:$PATH"
  [ "$(pulumi version)" = "v$version" ] || die "pulumi on PATH is $(pulumi version), need v$version"
}

# Offline Pulumi: no update checks, no cloud backend.
pulumi_offline_env() {
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
  export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=false
}

# npm dependencies of the repository, installed from the lockfile when missing or stale.
ensure_npm_deps() {
  local stamp="$REPO_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$REPO_ROOT/package-lock.json" -nt "$stamp" ]; then
    log "installing npm dependencies (npm ci)"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
  fi
}

# virt-firmware's virt-fw-vars (PyPI), the tests' independent reader of edk2 variable stores, in a
# virtualenv cached by version. Exports PULUMI_OVMF_VIRT_FW_VARS.
VIRT_FIRMWARE_VERSION=26.10
ensure_virt_firmware() {
  local venv="$CACHE_DIR/virt-firmware-$VIRT_FIRMWARE_VERSION"
  if [ ! -x "$venv/bin/virt-fw-vars" ]; then
    log "installing virt-firmware $VIRT_FIRMWARE_VERSION into $venv"
    if ! /usr/bin/python3 -m venv "$venv" >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null || die "python3-venv is missing and could not be installed"
      /usr/bin/python3 -m venv "$venv" || die "could not create a virtualenv at $venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "virt-firmware==$VIRT_FIRMWARE_VERSION" || die "pip install virt-firmware==$VIRT_FIRMWARE_VERSION failed"
  fi
  export PULUMI_OVMF_VIRT_FW_VARS="$venv/bin/virt-fw-vars"
}

use_toolchain() {
  ensure_node
  ensure_npm_deps
  ensure_pulumi
  pulumi_offline_env
}
