#!/usr/bin/env bash
# Points a stack of a project at the local test host, so that plain `pulumi` commands work in the
# project's directory as they would against your own host:
#
#   eval "$(bash scripts/testhost-stack.sh examples/shared-firmware)"   # stack "dev" by default
#   cd examples/shared-firmware && pulumi preview --diff && pulumi up
#
# It puts Node 22 and the pinned Pulumi CLI in place (building the CLI the first time), starts the
# test host when it is not running, builds pulumi-ovmf and `npm install`s the project (.npmrc: the
# package as a real copy), then runs `pulumi stack select --create` and `pulumi config set` for the
# test host's connection: host, port, user, hostKey, domainType, hosts (every test host, as JSON for
# the multi-host examples) and privateKey (`--secret`, from stdin). It prints, on stdout, the
# `export` lines for this shell: PATH (the CLI), a file backend in the project's .pulumi-state and
# the passphrase of these local stacks. Everything else goes to stderr.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ $# -ge 1 ] && [ -f "$1/Pulumi.yaml" ] || die "usage: testhost-stack.sh PROJECT_DIR [STACK] (a directory with a Pulumi.yaml)"
project="$(cd "$1" && pwd)"
stack="${2:-dev}"
use_toolchain
command -v pulumi-language-nodejs >/dev/null || die "no Node.js language host (pulumi-language-nodejs): plain pulumi cannot run a nodejs project; see CONTRIBUTING.md, How the tooling works"
TESTHOST_JSON="$REPO_ROOT/.testhost/testhost.json"
if ! bash "$REPO_ROOT/scripts/testhost.sh" json >/dev/null 2>&1; then
  log "starting the local libvirt test host (installs libvirt, QEMU, OVMF and sshd when missing)"
  bash "$REPO_ROOT/scripts/testhost.sh" start >/dev/null
fi
field() { node -p "require(process.argv[1])[process.argv[2]]" "$TESTHOST_JSON" "$1"; }
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$project/.pulumi-state}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-pulumi-ovmf-local-test-stacks}"
[[ "$PULUMI_BACKEND_URL" == file://* ]] && mkdir -p "${PULUMI_BACKEND_URL#file://}"
log "building pulumi-ovmf, then npm install in $(basename "$project")"
(cd "$REPO_ROOT" && npm run --silent build) >&2 || die "npm run build failed"
bash "$REPO_ROOT/scripts/install-project.sh" "$project"
cd "$project"
log "pulumi stack select $stack --create; pulumi config set host, port, user, hostKey, domainType, hosts; privateKey --secret"
pulumi stack select "$stack" --create --non-interactive >&2
pulumi config set host "$(field host)"
pulumi config set port "$(field port)"
pulumi config set user "$(field user)"
pulumi config set hostKey "$(field hostKey)"
pulumi config set domainType "$(field domainType)"
pulumi config set hosts "$(node -p 'JSON.stringify(require(process.argv[1]).hosts.map(({ privateKeyPath, ...h }) => h))' "$TESTHOST_JSON")"
pulumi config set --secret privateKey < "$(field privateKeyPath)"
printf 'export PATH=%q:"$PATH" PULUMI_BACKEND_URL=%q PULUMI_CONFIG_PASSPHRASE=%q PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true\n' \
  "$(dirname "$(command -v pulumi)"):$(dirname "$(command -v node)")" "$PULUMI_BACKEND_URL" "$PULUMI_CONFIG_PASSPHRASE"
