#!/usr/bin/env bash
# bulwark eval and bulwark sbom against trivy's SBOM pass on an ordinary
# Debian image of >= 300 packages, in the same run; prints a Markdown table
# for docs/benchmarks.md (medians, peak RSS, ratios). BASELINE=/path/to/an
# older bulwark adds its eval and sbom to the same run (an A/B of a change).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
for t in hyperfine mmdebstrap podman trivy; do
  command -v "$t" >/dev/null || { echo "$t missing: run scripts/install-test-deps.sh" >&2; exit 1; }
done
cargo build --release --locked --quiet
BIN="$PWD/target/release/bulwark"
WORK="$(mktemp -d /tmp/bulwark-bench-eval-XXXXXX | tr 'A-Z' 'a-z')"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"; podman --storage-driver vfs rmi -f localhost/bulwark-bench:big >/dev/null 2>&1 || true' EXIT
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
# A big ordinary image: the 'standard' variant plus a few heavy packages.
big_image "$WORK"
PKGS=$("$BIN" -q sbom "$WORK/layout" --format json | python3 -c "import json,sys;print(len(json.load(sys.stdin)['packages']))")
FILES=$("$BIN" -q eval "$WORK/layout" --format json | python3 -c "import json,sys;print(json.load(sys.stdin)['summary']['files'])")
SIZE=$(du -sm "$WORK/layout" | cut -f1)

TRIVY="trivy image --input $WORK/layout --format cyclonedx --scanners license --pkg-types os --cache-backend memory --skip-db-update --offline-scan --quiet"
AB=()
if [ -n "${BASELINE:-}" ]; then
  AB=(-n "baseline eval" "$BASELINE -q eval $WORK/layout --format json"
      -n "baseline sbom" "$BASELINE -q sbom $WORK/layout --format cyclonedx-json")
fi
hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/h.json" \
  -n "bulwark eval" "$BIN -q eval $WORK/layout --format json" \
  -n "bulwark sbom" "$BIN -q sbom $WORK/layout --format cyclonedx-json" \
  "${AB[@]}" \
  -n "trivy sbom" "$TRIVY" >&2
R_EVAL=$(rss "$BIN" -q eval "$WORK/layout" --format json)
R_SBOM=$(rss "$BIN" -q sbom "$WORK/layout" --format cyclonedx-json)
R_TRIVY=$(rss $TRIVY)
R_BEVAL=0; R_BSBOM=0
if [ -n "${BASELINE:-}" ]; then
  R_BEVAL=$(rss "$BASELINE" -q eval "$WORK/layout" --format json)
  R_BSBOM=$(rss "$BASELINE" -q sbom "$WORK/layout" --format cyclonedx-json)
fi
python3 - "$WORK/h.json" "$PKGS" "$FILES" "$SIZE" "$R_EVAL" "$R_SBOM" "$R_TRIVY" "$R_BEVAL" "$R_BSBOM" <<'PY'
import json, sys
h, pkgs, files, size, re, rs, rt, rbe, rbs = sys.argv[1:]
med = {r["command"]: r["median"] for r in json.load(open(h))["results"]}
t = med["trivy sbom"]
print(f"Image: {pkgs} packages, {files} files, {size} MiB layout (one gzip layer)\n")
print("| tool | median | peak RSS | speed vs trivy |")
print("|---|---:|---:|---:|")
rows = [("bulwark eval", re), ("bulwark sbom", rs)]
if "baseline eval" in med:
    rows += [("baseline eval", rbe), ("baseline sbom", rbs)]
for name, r in rows + [("trivy sbom", rt)]:
    print(f"| {name} | {med[name]:.2f} s | {int(r)//1024} MiB | {t/med[name]:.1f}x |")
if "baseline eval" in med:
    for k in ("eval", "sbom"):
        print(f"\nA/B {k}: {med['bulwark ' + k]:.3f} s now, {med['baseline ' + k]:.3f} s before ({med['bulwark ' + k] / med['baseline ' + k]:.2f}x)")
PY
