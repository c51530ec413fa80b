#!/usr/bin/env bash
# Measures bulwark build against mmdebstrap --variant=extract on the same
# package set, in the same run, and prints a Markdown table for
# docs/benchmarks.md. Usage: scripts/bench-build.sh [example] (default: base)
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLE="${1:-base}"
RUNS="${RUNS:-10}"
command -v hyperfine >/dev/null || { echo "hyperfine missing: run scripts/install-test-deps.sh" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "mmdebstrap missing: run scripts/install-test-deps.sh" >&2; exit 1; }

cargo build --release --locked --quiet
BIN="$PWD/target/release/bulwark"
WORK="$(mktemp -d /tmp/bulwark-bench-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cp "examples/$EXAMPLE.yaml" "$WORK/"
[ -d examples/python-app ] && cp -r examples/python-app "$WORK/"
cd "$WORK"
export BULWARK_CACHE_DIR="$WORK/cache"

# Host sources for mmdebstrap (it accepts a sources file as its mirror argument).
SOURCES=""
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
  [ -s "$f" ] && SOURCES="$f" && break
done

# Cold: empty cache, indexes and .debs fetched.
cold_start=$(date +%s.%N)
"$BIN" -q lock --update "$EXAMPLE.yaml" >/dev/null
"$BIN" -q build "$EXAMPLE.yaml" --frozen --output "oci:$WORK/cold" --format json > cold.json
cold_end=$(date +%s.%N)
COLD=$(echo "$cold_end - $cold_start" | bc)

PKGS=$(python3 -c "import json;l=json.load(open('$EXAMPLE.lock.json'));print(','.join(p['name'] for a in l['archs'].values() for p in a['packages']))")
URLS=$(python3 -c "
import json;l=json.load(open('$EXAMPLE.lock.json'))
u=[s['inrelease']['url'] for s in l['suites']]+[i['url'] for s in l['suites'] for i in s['indexes']]
u+=[p['uri'].rstrip('/')+'/'+p['filename'] for a in l['archs'].values() for p in a['packages']]
print('\n'.join(u))")
BYTES=$(python3 -c "
import json;l=json.load(open('$EXAMPLE.lock.json'))
print(sum(s['inrelease']['size'] for s in l['suites'])+sum(i['size'] for s in l['suites'] for i in s['indexes'])+sum(p['size'] for a in l['archs'].values() for p in a['packages']))")
# Indexes by their plain URL may be served compressed; the time to fetch the same bytes:
dl_start=$(date +%s.%N)
echo "$URLS" | xargs -P 8 -n 1 curl -fsS -o /dev/null
dl_end=$(date +%s.%N)
DL=$(echo "$dl_end - $dl_start" | bc)

hyperfine --runs "$RUNS" --warmup 1 --export-json warm.json \
  --prepare "rm -rf $WORK/warm $WORK/mm.tar" \
  -n "bulwark build (warm cache)" "$BIN -q build $EXAMPLE.yaml --frozen --output oci:$WORK/warm" \
  -n "mmdebstrap --variant=extract" "mmdebstrap -q --variant=extract --include=$PKGS --format=tar bookworm $WORK/mm.tar $SOURCES" >&2

python3 - "$EXAMPLE" "$COLD" "$DL" "$BYTES" <<'PY'
import json, sys, subprocess, platform, os
ex, cold, dl, nbytes = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
w = json.load(open("warm.json"))["results"]
med = {r["command"]: r["median"] for r in w}
b, m = med["bulwark build (warm cache)"], med["mmdebstrap --variant=extract"]
rep = json.load(open("cold.json"))
size = sum(p["compressed_size"] for p in rep["platforms"]) / len(rep["platforms"])
tar = sum(p["uncompressed_size"] for p in rep["platforms"]) / len(rep["platforms"])
ver = lambda c: subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip().splitlines()[0]
print(f"### `{ex}` — {os.uname().nodename}, {os.cpu_count()} cores, {ver('uname -r')}")
print(f"bulwark {ver('$BIN --version' if False else 'target/release/bulwark --version 2>/dev/null || echo bulwark')}, {ver('mmdebstrap --version')}, {ver('hyperfine --version')}\n")
print("| measure | value |")
print("|---|---|")
print(f"| image size (compressed / tar) | {size/1048576:.2f} MiB / {tar/1048576:.2f} MiB |")
print(f"| bulwark build, warm cache (median of {len(w[0]['times'])}) | {b:.3f} s |")
print(f"| mmdebstrap --variant=extract --format=tar (median) | {m:.3f} s |")
print(f"| speed-up | {m/b:.1f}× |")
print(f"| bulwark lock + build, cold cache | {cold:.2f} s |")
print(f"| download of the same {nbytes/1048576:.1f} MiB (curl, 8 parallel) | {dl:.2f} s |")
print(f"| cold / download | {cold/dl:.2f}× |")
PY
