#!/bin/sh
# Re-records sockdiag-listeners.nlcap and rtnetlink-host.nlcap (run as root from the repository root, after
# `swift build --scratch-path .build-h2`). Everything happens in a throwaway namespace with documentation addresses.
set -eu
BIN=${PORTWARDEN_BIN:-.build-h2/debug/portwarden}
HERE=Tests/NetlinkTests/Captures
N=pwt-capture-$$
TMP=$(mktemp -d)
trap 'ip netns pids $N 2>/dev/null | xargs -r kill -9; ip netns del $N 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add $N
ip -n $N link set lo up
ip -n $N link add d0 type veth peer name d1
ip -n $N addr add 192.0.2.10/24 dev d0
ip -n $N addr add 2001:db8::10/64 dev d0 nodad
ip -n $N link set d0 up
ip -n $N link set d1 up
ip -n $N rule add from 192.0.2.0/24 table 100 priority 100
ip -n $N rule add not fwmark 0x1/0xff iif d0 lookup main priority 200
ip -n $N -6 rule add to 2001:db8:1::/48 oif d1 table 101 priority 300
ip -n $N route add 198.51.100.0/24 via 192.0.2.1 dev d0 metric 50
ip -n $N route add blackhole 203.0.113.0/24
ip -n $N route add 198.51.100.0/24 dev d0 table 100
ip -n $N -6 route add unreachable 2001:db8:dead::/48
ip netns exec $N python3 $HERE/sockdiag-holder.py 5 > "$TMP/holder.out" &
sleep 1
PORTWARDEN_RECORD_NETLINK="$TMP" ip netns exec $N "$BIN" collect > /dev/null
ip netns exec $N ss -tulpneH > $HERE/sockdiag-listeners.ss.txt
cp "$TMP/sock_diag.nlcap" $HERE/sockdiag-listeners.nlcap
cp "$TMP/rtnetlink.nlcap" $HERE/rtnetlink-host.nlcap
wait
