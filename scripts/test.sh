#!/usr/bin/env bash
# The test command (README.md): every test of the workspace, including the
# end-to-end tests that build examples/*.yaml from the host's real Debian
# archive and check them with skopeo, umoci, podman and trivy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo nextest run --workspace --locked --no-fail-fast "$@"
cargo test --doc --workspace --locked --quiet
