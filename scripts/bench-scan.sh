#!/usr/bin/env bash
# bulwark scan against trivy's SBOM-only pass (the pass trivy must make before
# it can match anything) and bulwark's own sbom, on the >= 300-package image of
# bench-eval.sh, with a database of the Debian tracker's full size (generated
# by scripts/gen-tracker.py from the image's own sources) and the real KEV and
# EPSS data; also `db update` from local files and the database's load time.
# Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
for t in hyperfine mmdebstrap podman trivy python3; do
  command -v "$t" >/dev/null || { echo "$t missing: run scripts/install-test-deps.sh" >&2; exit 1; }
done
cargo build --release --locked --quiet
BIN="$PWD/target/release/bulwark"
WORK="$(mktemp -d /tmp/bulwark-bench-scan-XXXXXX | tr 'A-Z' 'a-z')"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"; podman --storage-driver vfs rmi -f localhost/bulwark-bench:big >/dev/null 2>&1 || true' EXIT
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
big_image "$WORK"
"$BIN" -q sbom "$WORK/layout" --format json > "$WORK/sbom.json"
python3 scripts/gen-tracker.py "$WORK/sbom.json" "$WORK/tracker.json"
KEV=tests/data/vuln/cisa-kev-2025-08-25.json.gz
EPSS=tests/data/vuln/epss-2026-08-16.csv.gz
UPDATE="$BIN -q db update --db $WORK/db --from $WORK/tracker.json --from $KEV --from $EPSS"
$UPDATE
TRIVY="trivy image --input $WORK/layout --format cyclonedx --scanners license --pkg-types os --cache-backend memory --skip-db-update --offline-scan --quiet"
hyperfine --runs 3 --export-json "$WORK/u.json" -n "db update" "$UPDATE" >&2
hyperfine --runs 20 --warmup 2 -N --export-json "$WORK/l.json" -n "db status" "$BIN -q db status --db $WORK/db" -n "bulwark --version" "$BIN --version" >&2
hyperfine --runs "$RUNS" --warmup 1 --export-json "$WORK/h.json" \
  -n "bulwark scan" "$BIN -q scan $WORK/layout --db $WORK/db --format json" \
  -n "bulwark sbom" "$BIN -q sbom $WORK/layout --format cyclonedx-json" \
  -n "trivy sbom" "$TRIVY" >&2
R_SCAN=$(rss "$BIN" -q scan "$WORK/layout" --db "$WORK/db" --format json)
R_SBOM=$(rss "$BIN" -q sbom "$WORK/layout" --format cyclonedx-json)
R_TRIVY=$(rss $TRIVY)
R_UPDATE=$(rss $UPDATE)
FINDINGS=$("$BIN" -q scan "$WORK/layout" --db "$WORK/db" --format json | python3 -c "import json,sys;r=json.load(sys.stdin);print(r['summary']['total'], r['packages'])")
TRACKER_MB=$(du -m "$WORK/tracker.json" | cut -f1)
DB_MB=$(du -sm "$WORK/db/current/" | cut -f1)
RECORDS=$("$BIN" -q db status --db "$WORK/db" --format json | python3 -c "import json,sys;print(' '.join(f\"{f['kind']}={f['records']}\" for f in json.load(sys.stdin)['feeds']))")
python3 - "$WORK" "$R_SCAN" "$R_SBOM" "$R_TRIVY" "$FINDINGS" "$TRACKER_MB" "$DB_MB" "$RECORDS" "$R_UPDATE" <<'PY'
import json, sys
work, rscan, rsbom, rtrivy, findings, tmb, dmb, records, rupdate = sys.argv[1:]
med = lambda f: {r["command"]: r["median"] for r in json.load(open(f"{work}/{f}"))["results"]}
h, u, l = med("h.json"), med("u.json"), med("l.json")
t = h["trivy sbom"]
n, pkgs = findings.split()
print(f"Image: {pkgs} packages, {n} findings. Tracker JSON {tmb} MB, database {dmb} MB ({records}).\n")
print("| tool | median | peak RSS | speed vs trivy |")
print("|---|---:|---:|---:|")
for name, r in [("bulwark scan", rscan), ("bulwark sbom", rsbom), ("trivy sbom", rtrivy)]:
    print(f"| {name} | {h[name]:.2f} s | {int(r)//1024} MiB | {t/h[name]:.1f}x |")
print(f"\nscan / sbom: {h['bulwark scan']/h['bulwark sbom']:.2f}x")
print(f"db update (tracker + KEV + EPSS, local files): {u['db update']:.2f} s, peak RSS {int(rupdate)//1024} MiB")
load = (l["db status"] - l["bulwark --version"]) * 1000
print(f"database load (db status minus process start): {load:.1f} ms")
PY
