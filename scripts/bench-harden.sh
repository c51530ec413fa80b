#!/usr/bin/env bash
# bulwark harden (default, --minify and --delta) against bulwark sbom of the same
# ordinary Debian image (>= 300 packages, one gzip layer), in one run; the
# issue's bound is harden <= 2x sbom. Prints a Markdown table for
# docs/benchmarks.md (medians, peak RSS, sizes, ratios).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
for t in hyperfine mmdebstrap podman; do
  command -v "$t" >/dev/null || { echo "$t missing: run scripts/install-test-deps.sh" >&2; exit 1; }
done
cargo build --release --locked --quiet
BIN="$PWD/target/release/bulwark"
WORK="$(mktemp -d /tmp/bulwark-bench-harden-XXXXXX | tr 'A-Z' 'a-z')"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"; podman --storage-driver vfs rmi -f localhost/bulwark-bench:big >/dev/null 2>&1 || true' EXIT
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
big_image "$WORK"
PKGS=$("$BIN" -q sbom "$WORK/layout" --format json | python3 -c "import json,sys;print(len(json.load(sys.stdin)['packages']))")
# The bench image has no command: harden it for python3.
HARDEN="$BIN -q harden $WORK/layout oci:$WORK/out:1 --entrypoint /usr/bin/python3 --format json"
MINIFY="$BIN -q harden $WORK/layout oci:$WORK/min:1 --entrypoint /usr/bin/python3 --minify --format json"
DELTA="$BIN -q harden $WORK/layout oci:$WORK/delta:1 --entrypoint /usr/bin/python3 --delta --format json"
hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/h.json" \
  --prepare "rm -rf $WORK/out $WORK/out.sbom $WORK/min $WORK/min.sbom $WORK/delta $WORK/delta.sbom" \
  -n "bulwark sbom" "$BIN -q sbom $WORK/layout --format cyclonedx-json" \
  -n "bulwark harden" "$HARDEN" \
  -n "bulwark harden --minify" "$MINIFY" \
  -n "bulwark harden --delta" "$DELTA" >&2
R_SBOM=$(rss "$BIN" -q sbom "$WORK/layout" --format cyclonedx-json)
rm -rf "$WORK/out" "$WORK/out.sbom" "$WORK/min" "$WORK/min.sbom" "$WORK/delta" "$WORK/delta.sbom"
R_HARDEN=$(rss $HARDEN)
R_MINIFY=$(rss $MINIFY)
R_DELTA=$(rss $DELTA)
$HARDEN > "$WORK/h-report.json"
$MINIFY > "$WORK/m-report.json"
$DELTA > "$WORK/d-report.json"
python3 - "$WORK/h.json" "$PKGS" "$R_SBOM" "$R_HARDEN" "$R_MINIFY" "$R_DELTA" "$WORK/h-report.json" "$WORK/m-report.json" "$WORK/d-report.json" <<'PY'
import json, sys
h, pkgs, rs, rh, rm, rd, hr, mr, dr = sys.argv[1:]
med = {r["command"]: r["median"] for r in json.load(open(h))["results"]}
s = med["bulwark sbom"]
print(f"Image: {pkgs} packages (one gzip layer)\n")
print("| command | median | peak RSS | vs sbom | result |")
print("|---|---:|---:|---:|---|")
def result(path, delta=False):
    p = json.load(open(path))["platforms"][0]
    size = (f"{p['size_before']/1048576:.0f} MiB + a {(p['size_after']-p['size_before'])/1048576:.1f} MiB delta layer"
            if delta else
            f"{p['size_before']/1048576:.0f} -> {p['size_after']/1048576:.0f} MiB ({p['size_before']/p['size_after']:.1f}x)")
    return (f"{p['packages_before']} -> {p['packages_after']} packages, {size}, "
            f"grade {p['grade_before']['grade']} -> {p['grade_after']['grade']}")
rows = [("bulwark sbom", rs, ""), ("bulwark harden", rh, result(hr)), ("bulwark harden --minify", rm, result(mr)),
        ("bulwark harden --delta", rd, result(dr, True))]
for name, r, res in rows:
    print(f"| {name} | {med[name]:.2f} s | {int(r)//1024} MiB | {med[name]/s:.2f}x | {res} |")
PY
