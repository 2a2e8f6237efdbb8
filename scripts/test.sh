#!/usr/bin/env bash
# The one test command: installs what the tests need (as root), then runs
# formatting and lint checks, every unit and integration test, and the
# network test bed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the interop tests and the test bed use.
PACKAGES=(nftables iproute2 conntrack jq tcpdump coturn stun-server stun-client miniupnpd
          miniupnpd-nftables miniupnpc natpmpc miredo miredo-server socat iputils-ping tmux chromium
          dnsmasq-base redis-server)

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}"
    # Never let a package install start a daemon (Debian's default miredo
    # config would contact a public Teredo server).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$(id -u)" -eq 0 ]; then
    install_packages
else
    echo "== not root: not installing packages; tests needing them will say they were skipped"
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace --quiet

# Each fuzz target (fuzz/, libFuzzer with AddressSanitizer) for a few
# seconds from its committed seeds, so a parser that regressed fails here.
echo "== fuzz smoke"
scripts/fuzz.sh --smoke 5

# The network test bed: real kernel NATs in namespaces, real servers. Needs
# root; without it the runner says loudly that it skipped.
echo "== testnet"
cargo build --quiet --bin ranat
RANAT_BIN=target/debug/ranat scripts/testnet.sh
