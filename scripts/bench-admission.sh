#!/usr/bin/env bash
# The admission webhook under load, on loopback. examples/base.yaml (one
# platform) is built from the host's Debian archive and pushed, signed with
# its SBOMs and provenance (both cosign formats), to a loopback
# docker-registry. Then:
#   1. cached decisions: `oha` sends a Pod review (image pinned by digest, as
#      /validate sees it after /mutate) at 1,000 requests/s for 30 s;
#   2. cold decisions: the same review one at a time with every verdict
#      expiring at once (--cache-ttl 0s): signature + two attestations read
#      from the registry each time, beside `cosign verify` (and `cosign
#      verify-attestation` for both types) of the same image, as whole
#      processes, in the same run;
#   3. memory: the server's resident set before and after the load, and its peak.
# Prints a Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-30s}"
RATE="${RATE:-1000}"
# The API server keeps a few HTTP/2 connections per webhook; 4 is the
# headline, 20 HTTP/1.1 connections (with oha on the same 2 cores) also run.
CONNECTIONS="${CONNECTIONS:-4}"
COLD="${COLD:-200}"
for t in hyperfine cosign docker-registry curl; do
  command -v "$t" >/dev/null || { echo "$t missing: run scripts/install-test-deps.sh" >&2; exit 1; }
done
# oha (a Rust load generator with a fixed request rate). Debian's hey is
# built with Go 1.19, whose TLS client rustls refuses ("illegal parameter");
# current Go clients (the API server, kubectl) are fine.
command -v oha >/dev/null || cargo install --locked --quiet oha
cargo build --release --locked --quiet
BIN="$PWD/target/release/bulwark"
WORK="$(mktemp -d /tmp/bulwark-bench-admission-XXXXXX)"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
export BULWARK_CACHE_DIR="$WORK/cache" BULWARK_PASSWORD=bench COSIGN_PASSWORD=bench HOME="$WORK"
cd "$WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(free_port)
mkdir -p reg
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' "$WORK/reg" "$RPORT" > reg.yml
docker-registry serve reg.yml >/dev/null 2>&1 & PIDS+=($!)
until curl -s "http://127.0.0.1:$RPORT/v2/" >/dev/null; do sleep 0.1; done
H="127.0.0.1:$RPORT"

cp "$OLDPWD/examples/base.yaml" .
"$BIN" -q key generate release >/dev/null
"$BIN" -q lock base.yaml >/dev/null
DIGEST=$("$BIN" -q build base.yaml --output "$H/bench/base:1" --insecure --sign-key release.key --signature-format both --format json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
IMAGE="$H/bench/base:1@$DIGEST"
cat > policy.yaml <<EOF
policies:
  - name: signed
    images: ["$H/bench/**"]
    keys: [release.pub]
    attestations: [spdx, slsa-provenance]
    mode: enforce
EOF
python3 - "$IMAGE" > review.json <<'PY'
import json, sys
print(json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
  "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
  "resource": {"group": "", "version": "v1", "resource": "pods"},
  "namespace": "default", "operation": "CREATE", "userInfo": {"username": "bench"},
  "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
             "spec": {"containers": [{"name": "app", "image": sys.argv[1]}]}}}}))
PY
"$BIN" -q admission certs --service bench --namespace bench --out certs --name 127.0.0.1 >/dev/null

serve() { # serve PORTFILE ARGS...: starts a server, waits until it listens
  local log="$1"; shift
  "$BIN" admission serve --config policy.yaml --tls-cert certs/tls.crt --tls-key certs/tls.key \
    --listen 127.0.0.1:0 --insecure --audit-log /dev/null "$@" 2> "$log" & PIDS+=($!)
  SERVER=$!
  until grep -q "listening on" "$log" 2>/dev/null; do sleep 0.1; done
  URL=$(sed -n 's/.*listening on //p' "$log" | head -1)
}
load_stats() { # the p50, p99 (ms), rate, 200s and everything else oha saw
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
codes = d["statusCodeDistribution"]
ok = int(codes.get("200", 0))
# Requests still in flight when oha's -z deadline ends are its own, not the server's.
errors = {k: v for k, v in d["errorDistribution"].items() if k != "aborted due to deadline"}
bad = sum(int(n) for c, n in codes.items() if c != "200") + sum(int(n) for n in errors.values())
print(f"{p['p50'] * 1000:.2f} {p['p99'] * 1000:.2f} {d['summary']['requestsPerSec']:.0f} {ok} {bad}")
PY
}
rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

# 1. Cached decisions at 1,000 req/s.
serve cached.log
curl -s --cacert certs/ca.crt -H 'Content-Type: application/json' --data-binary @review.json "$URL/validate" \
  | grep -q '"allowed":true' || { echo "the warm-up review was not allowed" >&2; cat cached.log >&2; exit 1; }
RSS_BEFORE=$(rss_kib "$SERVER" VmRSS)
# The policy is edited (a new comment) every 5 s during the load: reloads
# must not drop or fail a request.
( i=0; while sleep 5; do i=$((i+1)); printf '# edit %s\n' "$i" >> policy.yaml; done ) & EDITOR_PID=$!; PIDS+=($EDITOR_PID)
oha -z "$DURATION" -c "$CONNECTIONS" -q "$RATE" -m POST -T application/json -D review.json \
  --cacert certs/ca.crt --no-tui --output-format json "$URL/validate" > load-cached.json
kill "$EDITOR_PID" 2>/dev/null || true
RELOADS=$(curl -s --cacert certs/ca.crt "$URL/metrics" | sed -n 's/^bulwark_admission_reloads_total{file="policy",result="ok"} //p')
RSS_AFTER=$(rss_kib "$SERVER" VmRSS)
RSS_PEAK=$(rss_kib "$SERVER" VmHWM)
read -r C50 C99 CRATE COK CBAD < <(load_stats load-cached.json)
oha -z "$DURATION" -c 20 -q "$RATE" -m POST -T application/json -D review.json \
  --cacert certs/ca.crt --no-tui --output-format json "$URL/validate" > load-cached20.json
read -r W50 W99 WRATE WOK WBAD < <(load_stats load-cached20.json)
RSS_PEAK=$(rss_kib "$SERVER" VmHWM)
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

# 2. Cold decisions, one at a time, every verdict expiring at once.
serve cold.log --cache-ttl 0s --failure-ttl 0s --tag-ttl 0s
oha -n "$COLD" -c 1 -m POST -T application/json -D review.json \
  --cacert certs/ca.crt --no-tui --output-format json "$URL/validate" > load-cold.json
read -r K50 K99 KRATE KOK KBAD < <(load_stats load-cold.json)
grep -q '"allowed":true' <(curl -s --cacert certs/ca.crt -H 'Content-Type: application/json' --data-binary @review.json "$URL/validate") \
  || { echo "cold reviews were not allowed" >&2; exit 1; }
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
CV="cosign verify --key release.pub --insecure-ignore-tlog=true --allow-insecure-registry $IMAGE"
CA="cosign verify-attestation --key release.pub --insecure-ignore-tlog=true --allow-insecure-registry"
hyperfine --runs 20 --warmup 2 --export-json cosign.json \
  -n "cosign verify" "$CV" \
  -n "cosign verify + 2 x verify-attestation" "$CV && $CA --type spdxjson $IMAGE && $CA --type slsaprovenance1 $IMAGE" >/dev/null 2>&1

python3 - "$C50" "$C99" "$CRATE" "$COK" "$CBAD" "$K50" "$K99" "$KOK" "$KBAD" "$RSS_BEFORE" "$RSS_AFTER" "$RSS_PEAK" "$DURATION" "${RELOADS:-0}" "$W50" "$W99" "$WRATE" "$WOK" "$WBAD" "$CONNECTIONS" <<'PY'
import json, sys
c50, c99, crate, cok, cbad, k50, k99, kok, kbad, before, after, peak, dur, reloads, w50, w99, wrate, wok, wbad, conns = sys.argv[1:]
h = {r["command"]: r["median"] * 1000 for r in json.load(open("cosign.json"))["results"]}
cv, cva = h["cosign verify"], h["cosign verify + 2 x verify-attestation"]
print(f"| run | p50 | p99 | requests | errors | peak RSS |")
print(f"|---|---:|---:|---:|---:|---:|")
print(f"| cached decisions, {crate} req/s for {dur} ({conns} connections) | {float(c50):.2f} ms | {float(c99):.2f} ms | {cok} | {cbad} | {int(peak)//1024} MiB (RSS {int(before)//1024} MiB before, {int(after)//1024} MiB after) |")
print(f"| cached decisions, {wrate} req/s for {dur} (20 connections) | {float(w50):.2f} ms | {float(w99):.2f} ms | {wok} | {wbad} | |")
print(f"| cold decision: signature + 2 attestations, one at a time | {float(k50):.1f} ms | {float(k99):.1f} ms | {kok} | {kbad} | |")
print(f"| `cosign verify` (signature only), whole process | {cv:.0f} ms (median) | | | | |")
print(f"| `cosign verify` + 2 x `verify-attestation`, whole processes | {cva:.0f} ms (median) | | | | |")
print()
print(f"Policy reloads during the cached run: {reloads} (every 5 s), with the errors above.")
print(f"Cold decision vs `cosign verify`: {cv/float(k50):.1f}x faster; vs cosign verifying the same signature and two attestations: {cva/float(k50):.1f}x faster.")
PY
