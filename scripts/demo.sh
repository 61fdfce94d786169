#!/usr/bin/env bash
# The main job: deploy the example Secure Boot VM to the local test host with the real Pulumi CLI,
# then show from the VM's serial log that Secure Boot is enforced.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EXAMPLE="$REPO_ROOT/examples/secure-boot-vm"
log "checking the toolchain (Node 22, npm dependencies, the Pulumi CLI; the first run builds the CLI: 4 to 8 minutes)"
use_toolchain
log "starting the local libvirt test host (installs libvirt, QEMU, OVMF and sshd when missing)"
bash "$REPO_ROOT/scripts/testhost.sh" start >/dev/null
log "building pulumi-ovmf and installing it into examples/secure-boot-vm"
(cd "$REPO_ROOT" && npm run --silent build)
bash "$REPO_ROOT/scripts/install-project.sh" "$EXAMPLE"
TESTHOST_JSON="$REPO_ROOT/.testhost/testhost.json"
field() { node -p "require(process.argv[1])[process.argv[2]]" "$TESTHOST_JSON" "$1"; }
if command -v pulumi-language-nodejs >/dev/null; then
  # As a user runs it: plain pulumi commands in the project's directory, with a local file backend.
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$EXAMPLE/.pulumi-state}"
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-pulumi-ovmf-local-test-stacks}"
  mkdir -p "$EXAMPLE/.pulumi-state"
  cd "$EXAMPLE"
  log "pulumi stack select demo --create; pulumi config set host/port/hostKey, and privateKey --secret (from stdin), from the test host"
  pulumi stack select demo --create --non-interactive
  pulumi config set host "$(field host)"
  pulumi config set port "$(field port)"
  pulumi config set hostKey "$(field hostKey)"
  pulumi config set --secret privateKey < "$(field privateKeyPath)"
  log "pulumi up: FirmwareImage (the host's Secure Boot OVMF), Nvram (the VM's own variable store), Q35Domain (SMM, secure loader)"
  pulumi up --yes --non-interactive --color never
  serial=$(pulumi stack output serialLogPath)
  cd "$REPO_ROOT"
else
  log "no Node.js language host: running the program inline through the Automation API"
  log "pulumi up: FirmwareImage (the host's Secure Boot OVMF), Nvram (the VM's own variable store), Q35Domain (SMM, secure loader)"
  node "$REPO_ROOT/scripts/pulumi-stack.mts" "$EXAMPLE" up --stack demo --testhost "$TESTHOST_JSON"
  serial=$(node "$REPO_ROOT/scripts/pulumi-stack.mts" "$EXAMPLE" outputs --stack demo | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).serialLogPath))')
fi
log "reading the VM's serial console log: the VM has no disk, so OVMF tries its unsigned built-in EFI shell"
node "$REPO_ROOT/scripts/serial-proof.mts" "$REPO_ROOT/.testhost/testhost.json" "$serial" 300
log "done. Remove the VM with: node scripts/pulumi-stack.mts examples/secure-boot-vm destroy --stack demo --remove"
