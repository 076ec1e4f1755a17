#!/bin/sh
# Re-records varied-perChain.nlcap and varied-whole.nlcap from a real kernel (see README.md). Needs root.
# Usage (from anywhere): sudo Tests/NetlinkTests/Captures/record.sh [swift scratch path, default .build]
set -eu
cd "$(dirname "$0")/../../.."
SCRATCH=${1:-.build}
CAPTURES=Tests/NetlinkTests/Captures
swift build --scratch-path "$SCRATCH" --product portwardenPackageTests
BIN="$SCRATCH/debug/portwardenPackageTests.xctest"
NS="pwt-record-$$"
WORK=$(mktemp -d)
trap 'ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip link add pwveth0 type veth peer name pwveth1   # the netdev chain's device
in_ns nft -f "$CAPTURES/varied.nft"
# iptables-nft rules (table ip filter): xt matches "multiport" (rev 1) and "comment" (rev 0), and a native range.
in_ns iptables-nft -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
in_ns iptables-nft -A INPUT -s 198.51.100.0/24 -m comment --comment "xt comment" -j DROP
in_ns iptables-nft -A INPUT -p tcp --dport 3000:3100 -j ACCEPT
for strategy in perChain whole; do
    mkdir -p "$WORK/$strategy"
    in_ns env PORTWARDEN_LIVE_NETNS=1 PORTWARDEN_LIVE_STRATEGY="$strategy" PORTWARDEN_LIVE_OUTPUT="$WORK/$strategy/read.json" \
        PORTWARDEN_RECORD_NETLINK="$WORK/$strategy" "$BIN" --testing-library swift-testing --filter 'NetlinkTests.LiveRead'
    cp "$WORK/$strategy/nfnetlink.nlcap" "$CAPTURES/varied-$strategy.nlcap"
done
in_ns nft --debug=netlink list ruleset > "$CAPTURES/varied.debug.txt" 2>&1
echo "recorded $CAPTURES/varied-perChain.nlcap and $CAPTURES/varied-whole.nlcap"
