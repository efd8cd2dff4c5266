#!/usr/bin/env bash
# The Debian packages the test suite needs and npm cannot bring: python3-venv
# (Synapse and yt-dlp are pip-installed into ./.venv), Chromium (the console
# tests drive it with playwright-core), openssl (a certificate for the test
# PostgreSQL that requires SSL, test/harness/postgres.ts) and nix-bin
# (nix-instantiate checks the NixOS module, deploy/nixos). Run once per machine, as root or with
# sudo; .ci/run calls it. The daemon itself needs neither.
set -euo pipefail

missing=()
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if ! command -v openssl >/dev/null 2>&1; then missing+=(openssl); fi
if ! command -v nix-instantiate >/dev/null 2>&1; then missing+=(nix-bin); fi
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

echo "system-packages: installing ${missing[*]} (apt-get)"
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
  echo "system-packages: need ${missing[*]} but am not root and have no sudo; as root run: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A stale package index makes install fail; refresh it only then, it is slow.
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" || { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; }
