#!/usr/bin/env bash
# The main job: deploy the example to the local test host with the real Pulumi CLI and show the result.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_toolchain
log "starting the local libvirt test host (installs libvirt, QEMU, OVMF and sshd when missing)"
bash "$REPO_ROOT/scripts/testhost.sh" start >/dev/null
log "building pulumi-ovmf and installing it into examples/host-info"
(cd "$REPO_ROOT" && npm run --silent build)
bash "$REPO_ROOT/scripts/install-project.sh" "$REPO_ROOT/examples/host-info"
log "pulumi up (the provider connects over SSH, verifies the pinned host key and asks virsh)"
node "$REPO_ROOT/scripts/pulumi-stack.mts" "$REPO_ROOT/examples/host-info" up --stack demo \
  --testhost "$REPO_ROOT/.testhost/testhost.json"
log "stack outputs:"
node "$REPO_ROOT/scripts/pulumi-stack.mts" "$REPO_ROOT/examples/host-info" outputs --stack demo
log "done. To remove it: node scripts/pulumi-stack.mts examples/host-info destroy --stack demo --remove"
