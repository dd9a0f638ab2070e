#!/usr/bin/env bash
# Everything CI checks, from a fresh clone: installs what is missing, then runs the
# formatter, clippy, every test, the examples and the book.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "tools"
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
# The Redis tier's tests start their own redis-server on a free loopback port, and the TLS
# tests make their certificates with openssl.
missing=""
command -v redis-server >/dev/null || missing="$missing redis-server"
command -v openssl >/dev/null || missing="$missing openssl"
if [ -n "$missing" ]; then
    if command -v apt-get >/dev/null; then
        as_root=""
        [ "$(id -u)" -eq 0 ] || as_root="sudo"
        # shellcheck disable=SC2086 # one word per package
        ($as_root apt-get update -qq && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq $missing) >/dev/null \
            || { echo "cannot install$missing: install it (apt-get install$missing)"; exit 1; }
    else
        echo "missing:$missing: install it (e.g. apt-get install$missing)"; exit 1
    fi
fi
if ! command -v mdbook >/dev/null; then
    cargo install --locked mdbook --no-default-features --features search
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test"
cargo test --workspace --all-features

step "examples"
# The dev profile that the tests just built: nothing compiles twice. Run twice on a fresh
# storage folder: the second run must find the persisted values.
tour_dir=$(mktemp -d)
trap 'rm -rf "$tour_dir"' EXIT
SMARTCACHE_DIR="$tour_dir" cargo run --all-features --example tour
second=$(SMARTCACHE_DIR="$tour_dir" cargo run --all-features --example tour)
echo "$second"
echo "$second" | grep -q "hit from file" || { echo "the second tour run found nothing on disk"; exit 1; }
echo "$second" | grep -q "hit from sled" || { echo "the second tour run found nothing in sled"; exit 1; }
# The memoize example, twice: the second run must not recompute the persisted report.
SMARTCACHE_DIR="$tour_dir" cargo run --all-features --example memoize
second=$(SMARTCACHE_DIR="$tour_dir" cargo run --all-features --example memoize)
echo "$second"
if echo "$second" | grep -q "computing the report"; then
    echo "the second memoize run recomputed a persisted result"; exit 1
fi
# The AnyCache example, twice: the second run reads the persisted values back as their
# types, in a new process.
SMARTCACHE_DIR="$tour_dir" cargo run --all-features --example any
second=$(SMARTCACHE_DIR="$tour_dir" cargo run --all-features --example any)
echo "$second"
for key in matrix summary; do
    echo "$second" | grep -q "^$key: hit" || { echo "the second any run did not read $key back"; exit 1; }
done

step "book"
mdbook build book

step "all checks passed"
