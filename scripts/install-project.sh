#!/usr/bin/env bash
# Installs a Pulumi project of this repository (an example or an end-to-end test project) with the
# package as a real copy in its node_modules (`--install-links`): Pulumi captures packages under
# node_modules by reference, but a symlinked package by value, and the provider shim must load the
# installed implementation. Usage: install-project.sh DIR (after `npm run build`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir="$(cd "${1:?project dir}" && pwd)"
rm -rf "$dir/node_modules/pulumi-ovmf"  # a file: dependency of the same version is never refreshed otherwise
(cd "$dir" && npm install --install-links --no-package-lock --no-audit --no-fund --loglevel=error >/dev/null) \
  || die "npm install in $dir failed"
