#!/usr/bin/env bash
# Measures bulwark build against mmdebstrap --variant=extract on the same
# package set, and a cold lock + build against a plain download of the same
# files, all in the same run, and prints a Markdown table for
# docs/benchmarks.md.
#
# Usage: scripts/bench-build.sh [example]      (default: base)
#   RUNS=10        warm-build runs
#   COLD_RUNS=7    cold runs per link
#   LINKS="300 100"  slower links to emulate, in Mbit/s (scripts/throttle-proxy.py)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
EXAMPLE="${1:-base}"
RUNS="${RUNS:-10}"
COLD_RUNS="${COLD_RUNS:-7}"
LINKS="${LINKS-300 100}"
for tool in hyperfine mmdebstrap curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/install-test-deps.sh" >&2; exit 1; }
done

cargo build --release --locked --quiet
BIN="$REPO/target/release/bulwark"
WORK="$(mktemp -d /tmp/bulwark-bench-XXXXXX)"
PROXY_PID=""
cleanup() {
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
cp "examples/$EXAMPLE.yaml" "$WORK/"
[ -d examples/python-app ] && cp -r examples/python-app "$WORK/"
cd "$WORK"
export BULWARK_CACHE_DIR="$WORK/cache"

# Host sources for mmdebstrap (it accepts a sources file as its mirror argument).
SOURCES=""
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
  [ -s "$f" ] && SOURCES="$f" && break
done

# One build first: the lock names the files a cold build fetches.
"$BIN" -q lock --update "$EXAMPLE.yaml" >/dev/null
"$BIN" -q build "$EXAMPLE.yaml" --frozen --output "oci:$WORK/cold" --format json > cold.json
PKGS=$(python3 -c "import json;l=json.load(open('$EXAMPLE.lock.json'));print(','.join(p['name'] for a in l['archs'].values() for p in a['packages']))")
python3 - "$EXAMPLE.lock.json" > curl.args <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))
urls = [s["inrelease"]["url"] for s in l["suites"]]
urls += [i["url"] for s in l["suites"] for i in s["indexes"]]
urls += [p["uri"].rstrip("/") + "/" + p["filename"] for a in l["archs"].values() for p in a["packages"]]
print("\n".join(f'url = "{u}"\noutput = "/dev/null"' for u in urls))
PY
BYTES=$(python3 -c "
import json;l=json.load(open('$EXAMPLE.lock.json'))
print(sum(s['inrelease']['size'] for s in l['suites'])+sum(i['size'] for s in l['suites'] for i in s['indexes'])+sum(p['size'] for a in l['archs'].values() for p in a['packages']))")
cat > cold.sh <<SH
#!/bin/sh
set -e
cd "$WORK"
"$BIN" -q lock --update "$EXAMPLE.yaml" >/dev/null
"$BIN" -q build "$EXAMPLE.yaml" --frozen --output "oci:$WORK/cold" >/dev/null
SH
chmod +x cold.sh

# Cold: an empty cache, so indexes and .debs are fetched (lock --update, then
# build). The reference is one curl process fetching the same files over one
# keep-alive connection. Both run on this machine's link and, through the
# throttling proxy, on slower ones.
: > links.txt
for link in direct $LINKS; do
  if [ "$link" != direct ]; then
    rm -f port
    python3 "$REPO/scripts/throttle-proxy.py" "$link" "$WORK/port" &
    PROXY_PID=$!
    for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
    export http_proxy="http://127.0.0.1:$(cat port)" https_proxy="http://127.0.0.1:$(cat port)"
  fi
  hyperfine --runs "$COLD_RUNS" --warmup 1 --export-json "cold-$link.json" \
    --prepare "rm -rf $WORK/cache $WORK/$EXAMPLE.lock.json $WORK/cold" \
    -n "bulwark lock + build (cold)" "$WORK/cold.sh" \
    -n "curl, same files" "curl -fsS --config $WORK/curl.args" >&2
  echo "$link" >> links.txt
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=""
    unset http_proxy https_proxy
  fi
done
"$BIN" -q lock "$EXAMPLE.yaml" >/dev/null

hyperfine --runs "$RUNS" --warmup 1 --export-json warm.json \
  --prepare "rm -rf $WORK/warm $WORK/mm.tar" \
  -n "bulwark build (warm cache)" "$BIN -q build $EXAMPLE.yaml --frozen --output oci:$WORK/warm" \
  -n "mmdebstrap --variant=extract" "mmdebstrap -q --variant=extract --include=$PKGS --format=tar bookworm $WORK/mm.tar $SOURCES" >&2

BIN="$BIN" COLD_RUNS="$COLD_RUNS" python3 - "$EXAMPLE" "$BYTES" <<'PY'
import json, os, subprocess, sys
ex, nbytes = sys.argv[1], int(sys.argv[2])
w = json.load(open("warm.json"))["results"]
med = {r["command"]: r["median"] for r in w}
b, m = med["bulwark build (warm cache)"], med["mmdebstrap --variant=extract"]
rep = json.load(open("cold.json"))
size = sum(p["compressed_size"] for p in rep["platforms"]) / len(rep["platforms"])
tar = sum(p["uncompressed_size"] for p in rep["platforms"]) / len(rep["platforms"])
ver = lambda c: (subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip().splitlines() or ["?"])[0]
print(f"### `{ex}` — {os.cpu_count()} cores, {ver('uname -r')}")
print(f"{ver(os.environ['BIN'] + ' --version')}, {ver('mmdebstrap --version')}, {ver('hyperfine --version')}, {' '.join(ver('curl --version').split()[:2])}\n")
print("| measure | value |")
print("|---|---|")
print(f"| image size (compressed / tar) | {size/1048576:.2f} MiB / {tar/1048576:.2f} MiB |")
print(f"| bulwark build, warm cache (median of {len(w[0]['times'])}) | {b:.3f} s |")
print(f"| mmdebstrap --variant=extract --format=tar (median) | {m:.3f} s |")
print(f"| speed-up | {m/b:.1f}× |")
print(f"\nCold: lock --update + build with an empty cache, against one curl process")
print(f"fetching the same {nbytes/1048576:.1f} MiB (medians of {os.environ['COLD_RUNS']} runs each):\n")
print("| link | bulwark cold | download | cold / download |")
print("|---|---:|---:|---:|")
for link in open("links.txt").read().split():
    r = {x["command"]: x["median"] for x in json.load(open(f"cold-{link}.json"))["results"]}
    c, d = r["bulwark lock + build (cold)"], r["curl, same files"]
    name = "this machine's mirror" if link == "direct" else f"{link} Mbit/s (throttle-proxy)"
    print(f"| {name} | {c:.2f} s | {d:.2f} s | {c/d:.1f}× |")
PY
