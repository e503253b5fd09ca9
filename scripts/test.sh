#!/usr/bin/env bash
# The whole test suite, runnable on a fresh Debian machine: installs what the tests need when
# it is missing, then runs every test of every feature.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need (none yet beyond the Rust toolchain and a C compiler).
need_packages=()
# valgrind: `lancehead compare --counters callgrind` and its test.
command -v valgrind >/dev/null || need_packages+=(valgrind)
if [ ${#need_packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq "${need_packages[@]}"
    else
        echo "missing Debian packages: ${need_packages[*]} (run as root to install them)" >&2
        exit 1
    fi
fi

cargo fmt --all -- --check
# Every backend and extra.
cargo test --all-features
# The criterion benches must keep compiling (`cargo bench` runs them).
cargo bench --all-features --no-run
# A build without the optional backends: the registry must name the feature that brings each.
cargo test --no-default-features --test bad_input --test cli
