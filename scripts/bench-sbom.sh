#!/usr/bin/env bash
# bulwark sbom against trivy's SBOM pass (issue 3's benchmark). The image and
# the trivy flags are the ones scripts/bench-eval.sh uses, and one run of it
# measures `bulwark sbom`, `bulwark eval` and trivy side by side, so this
# script runs it (RUNS=N to change the number of runs).
set -euo pipefail
exec bash "$(dirname "$0")/bench-eval.sh" "$@"
