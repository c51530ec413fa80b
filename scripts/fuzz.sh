#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) over its seed corpus
# (fuzz/corpus/TARGET, kept in the repository), on the machine's stable
# toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass the unstable flags
# libFuzzer needs. A crash, a panic, an input slower than 10 s or one that
# takes more than 2 GiB fails the run, with the input under
# fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh            # CI: a fixed seed and a fixed number of runs
#                              # per target (a few seconds each), so a commit
#                              # that passes here passes in CI
#   scripts/fuzz.sh 300        # by hand: 300 s per target, random seed
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-}"
# Runs per target in the fixed mode: targets that build a layout on disk
# per input run a few hundred inputs a second, parsers hundreds of thousands.
runs_for() {
  case "$1" in
    image_layer_walk|registry_documents|vuln_feeds) echo 4000 ;;
    packages_index) echo 20000 ;;
    key_files|policy|spec_and_lock|inrelease_verify|image_reference|admission_review|gzip_index) echo 200000 ;;
    *) echo 1000000 ;;
  esac
}
if ! command -v cargo-fuzz >/dev/null; then
  cargo install --locked --quiet cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
# No sanitizer: the workspace forbids unsafe code; the fuzzers look for
# panics, hangs and memory blow-ups.
cargo fuzz build -s none
for target in $(cargo fuzz list); do
  work=$(mktemp -d)
  if [ -n "$seconds" ]; then
    mode=(-max_total_time="$seconds")
    echo "fuzz: $target for ${seconds}s"
  else
    mode=(-seed=1 -runs="$(runs_for "$target")" -max_total_time=120)
    echo "fuzz: $target, $(runs_for "$target") runs from seed 1"
  fi
  # New inputs go to the temporary directory; the committed seeds are read only.
  status=0
  cargo fuzz run -s none "$target" "$work" "corpus/$target" -- \
    "${mode[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$work.log" 2>&1 || status=$?
  grep -a -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' "$work.log" || true
  if [ "$status" != 0 ]; then
    tail -n 60 "$work.log" >&2
    echo "fuzz: $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    rm -rf "$work" "$work.log"
    exit 1
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: every target ran without a crash"
