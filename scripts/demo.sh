#!/usr/bin/env bash
# The main job: deploy the example Secure Boot VM to the local test host with plain `pulumi`
# commands in examples/secure-boot-vm, as a user would, then show from the VM's serial log that
# Secure Boot is enforced. `npm run demo -- destroy` removes the VM and the demo's stack.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
EXAMPLE="$REPO_ROOT/examples/secure-boot-vm"
action="${1:-up}"
case "$action" in up|destroy) ;; *) die "usage: npm run demo [-- destroy]" ;; esac
log "checking the toolchain (Node 22, npm dependencies, the Pulumi CLI; the first run builds the CLI: 4 to 8 minutes)"
use_toolchain
log "starting the local libvirt test host (installs libvirt, QEMU, OVMF and sshd when missing)"
bash "$REPO_ROOT/scripts/testhost.sh" start >/dev/null
TESTHOST_JSON="$REPO_ROOT/.testhost/testhost.json"

if ! command -v pulumi-language-nodejs >/dev/null; then
  # Without the Node.js language host the CLI cannot run a nodejs project itself: the program runs
  # inline through the Automation API instead (same CLI, same engine, same stack).
  log "no Node.js language host: running the program inline through the Automation API"
  (cd "$REPO_ROOT" && npm run --silent build)
  bash "$REPO_ROOT/scripts/install-project.sh" "$EXAMPLE"
  if [ "$action" = destroy ]; then
    node "$REPO_ROOT/scripts/pulumi-stack.mts" "$EXAMPLE" destroy --stack demo --remove
    exit 0
  fi
  node "$REPO_ROOT/scripts/pulumi-stack.mts" "$EXAMPLE" refresh --stack demo --testhost "$TESTHOST_JSON"
  node "$REPO_ROOT/scripts/pulumi-stack.mts" "$EXAMPLE" up --stack demo
  outputs=$(node "$REPO_ROOT/scripts/pulumi-stack.mts" "$EXAMPLE" outputs --stack demo)
  serial=$(node -p 'JSON.parse(process.argv[1]).serialLogPath' "$outputs")
  domain=$(node -p 'JSON.parse(process.argv[1]).domainName' "$outputs")
else
  # As a user runs it: npm install, pulumi stack select, pulumi config set, pulumi up, in the
  # project's directory (scripts/testhost-stack.sh does the first three against the test host).
  exports="$(bash "$REPO_ROOT/scripts/testhost-stack.sh" "$EXAMPLE" demo)"
  eval "$exports"
  cd "$EXAMPLE"
  if [ "$action" = destroy ]; then
    log "pulumi destroy --remove (the VM, its NVRAM and the demo stack)"
    pulumi destroy --yes --remove --non-interactive --color never
    exit 0
  fi
  # --refresh: a VM stopped since the last run (a host reboot) is seen as stopped, and started.
  log "pulumi up --refresh: FirmwareImage (the host's Secure Boot OVMF), Nvram (the VM's own variable store), Q35Domain (SMM, secure loader)"
  pulumi up --yes --refresh --non-interactive --color never
  serial=$(pulumi stack output serialLogPath)
  domain=$(pulumi stack output domainName)
  cd "$REPO_ROOT"
fi
log "reading the VM's serial console log: the VM has no disk, so OVMF tries its unsigned built-in EFI shell"
node "$REPO_ROOT/scripts/serial-proof.mts" "$TESTHOST_JSON" "$domain" "$serial" 300
if command -v pulumi-language-nodejs >/dev/null; then
  log "to run pulumi by hand on the demo stack: eval \"\$(bash scripts/testhost-stack.sh examples/secure-boot-vm demo)\"; cd examples/secure-boot-vm; pulumi preview --diff"
fi
log "done. Remove the VM with: npm run demo -- destroy"
