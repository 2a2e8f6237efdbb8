#!/usr/bin/env bash
# Removes a test bed built by testnet/up.sh: stops its daemons (and waits for
# them), deletes its namespaces and its state directory.
#
#   testnet/down.sh PREFIX        (or RANAT_TESTNET_PREFIX=PREFIX testnet/down.sh)
set -uo pipefail
prefix=${1:-${RANAT_TESTNET_PREFIX:-}}
if [ -z "$prefix" ]; then
    echo "usage: testnet/down.sh PREFIX" >&2
    echo "test beds on this machine:" >&2
    ls -d "${TMPDIR:-/tmp}"/ranat-testnet-* 2>/dev/null | sed 's/.*ranat-testnet-/  /' >&2
    exit 2
fi
RANAT_TESTNET_PREFIX=$prefix
. "$(dirname "$0")/lib.sh"
tn_down
tn_log "down: prefix $TN_PREFIX"
