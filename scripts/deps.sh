#!/usr/bin/env bash
# The dependency policy: licences, banned and duplicate crates, sources (cargo-deny, deny.toml),
# and no unused crate (cargo-machete). Installs both tools from crates.io when missing.
# The RustSec advisory check needs its database from the network: `cargo deny check advisories`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null || cargo install --locked --quiet --no-default-features cargo-deny@0.20.2
command -v cargo-machete >/dev/null || cargo install --locked --quiet cargo-machete@0.9.2
cargo deny --log-level error check bans licenses sources
cargo machete
