#!/usr/bin/env bash
# Installs a Pulumi project of this repository (an example or an end-to-end test project) as a user
# does, with plain `npm install`: the project's .npmrc (`install-links=true`) makes the package a real
# copy in its node_modules. Pulumi captures packages under node_modules by reference, but a
# symlinked package by value, and the provider shim must load the installed implementation.
# Usage: install-project.sh DIR (after `npm run build`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dir="$(cd "${1:?project dir}" && pwd)"
rm -rf "$dir/node_modules/pulumi-ovmf"  # a file: dependency of the same version is never refreshed otherwise
grep -qx 'install-links=true' "$dir/.npmrc" 2>/dev/null || die "$dir/.npmrc must say install-links=true (the package as a real copy)"
# --ignore-scripts: the package's own prepare would build it again for every project (the scripts
# built it once before); nothing else these projects install needs an install script.
(cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) \
  || die "npm install in $dir failed"
