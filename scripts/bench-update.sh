#!/usr/bin/env bash
# `bulwark update --check` over 20 specs (5 copies each of the base, cc, static
# and python examples, locked without -security and -updates so that every
# spec has updates and changelogs to read) against a warm cache, next to the
# same 20 checks run one spec per process (each loading and verifying the
# suites itself: what a script looping over specs would do). Needs the
# host's Debian archive. Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
command -v hyperfine >/dev/null || { echo "hyperfine missing: run scripts/install-test-deps.sh" >&2; exit 1; }
cargo build --release --locked --quiet
BIN="$PWD/target/release/bulwark"
WORK="$(mktemp -d /tmp/bulwark-bench-update-XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export BULWARK_CACHE_DIR="$WORK/cache"
cp -r examples/python-app "$WORK/"
SPECS=()
for ex in base cc static python; do
  for i in 1 2 3 4 5; do
    f="$WORK/$ex$i.yaml"
    sed -e "s/^name: .*/name: $ex$i/" \
        -e 's/^  suite: bookworm$/  suite: bookworm\n  updates: false\n  security: false/' \
        "examples/$ex.yaml" > "$f"
    "$BIN" -q lock "$f" >/dev/null
    # Back to the spec as written: -security and -updates on.
    sed -e "s/^name: .*/name: $ex$i/" "examples/$ex.yaml" > "$f"
    SPECS+=("$f")
  done
done
# Warm the cache (indexes and the changelogs' .debs) once.
"$BIN" -q update "${SPECS[@]}" --check --format json > "$WORK/out.json" || test $? = 4
LOOP="for f in ${SPECS[*]}; do $BIN -q update \$f --check --format json >/dev/null || test \$? = 4; done"
hyperfine --runs "$RUNS" --warmup 1 -i --export-json "$WORK/h.json" \
  -n "bulwark update --check (20 specs, one run)" "$BIN -q update ${SPECS[*]} --check --format json" \
  -n "one process per spec (20 runs)" "$LOOP" >&2
R=$( { /usr/bin/time -f "%M" "$BIN" -q update "${SPECS[@]}" --check --format json 2>&1 >/dev/null || true; } | tail -1 )
python3 - "$WORK" "$R" <<'PY'
import json, sys
work, rss = sys.argv[1:]
out = json.load(open(f"{work}/out.json"))
h = {r["command"]: r["median"] for r in json.load(open(f"{work}/h.json"))["results"]}
one = h["bulwark update --check (20 specs, one run)"]
loop = h["one process per spec (20 runs)"]
specs = out["specs"]
changed = sum(len(s["packages"]) for s in specs)
cves = sum(len(s["cves_fixed"]) for s in specs)
print(f"{len(specs)} specs, {out['suites_loaded']} distinct suite loads, {changed} package changes, {cves} CVEs fixed named.\n")
print("| run | median | peak RSS | vs one process per spec |")
print("|---|---:|---:|---:|")
print(f"| bulwark update --check, 20 specs | {one:.2f} s | {int(rss)//1024} MiB | {loop/one:.1f}x faster |")
print(f"| one process per spec, 20 runs | {loop:.2f} s | | 1.0x |")
PY
