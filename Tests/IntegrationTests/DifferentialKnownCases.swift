import Foundation

/// Hand-written differential cases with a known kernel answer (nftables-netlink.md §3), one per semantic point.
/// They check the harness (its ground truth must match the documented behaviour) as well as `trace`.
enum DiffKnownCases {
    private static func l(_ id: Int, _ proto: String, _ address: String, _ port: Int, v6only: Bool = false, device: String? = nil) -> DiffListener {
        let v6 = address.contains(":")
        return DiffListener(
            id: id, proto: proto, family: v6 ? "ipv6" : "ipv4", address: address, port: port,
            v6only: v6 && (v6only || address != "::"), device: device)
    }

    /// A probe: protocol, origin, source, destination, port, and the listener id it must reach (nil: none).
    private typealias P = (proto: String, origin: ProbeOrigin, src: String, dst: String, dport: Int, expect: Int?)

    private static func make(_ index: Int, _ name: String, _ ruleset: String, _ listeners: [DiffListener], _ probes: [P]) -> DiffCase {
        // One-line tables: a chain's closing brace needs a `;` before the table's.
        var c = DiffCase(seed: 0, layout: .none, ruleset: ruleset, listeners: listeners, probes: [], name: name)
        for (i, p) in probes.enumerated() {
            c.probes.append(
                DiffProbe(pid: i + 1, proto: p.proto, src: p.src, dst: p.dst, dport: p.dport, sport: 20000 + index * 100 + i, origin: p.origin))
            c.expected[i + 1] = .some(p.expect)
        }
        return c
    }

    static let established = DiffGenerator.followUpAccept

    static let all: [DiffCase] = [
        make(
            1, "accept is not final",
            """
            table inet a { chain input { type filter hook input priority 0; policy accept; tcp dport 22 accept; }; }
            table ip b { chain input { type filter hook input priority 10; policy accept; \(established); tcp dport 22 drop; }; }
            """,
            [l(1, "tcp", "0.0.0.0", 22), l(2, "tcp", "::", 22, v6only: true)],
            [
                ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 22, nil), ("tcp", .peerA, "2001:db8:a::2", "2001:db8:a::1", 22, 2),
                ("tcp", .local, "192.0.2.1", "198.51.100.1", 22, nil)
            ]),
        make(
            2, "drop is final",
            """
            table ip a { chain input { type filter hook input priority -10; policy accept; udp dport 5353 drop; }; }
            table inet b { chain input { type filter hook input priority 0; policy drop; udp dport 5353 accept; }; }
            """,
            [l(1, "udp", "0.0.0.0", 5353)],
            [("udp", .peerB, "198.51.100.2", "198.51.100.1", 5353, nil), ("udp", .local, "192.0.2.1", "192.0.2.1", 5353, nil)]),
        make(
            3, "goto versus jump",
            """
            table inet t {
                chain empty { }
                chain input { type filter hook input priority 0; policy drop; \(established)
                    tcp dport 80 jump empty; tcp dport 80 accept
                    tcp dport 443 goto empty; tcp dport 443 accept
                }
            }
            """,
            [l(1, "tcp", "0.0.0.0", 80), l(2, "tcp", "0.0.0.0", 443)],
            [("tcp", .peerA, "192.0.2.2", "192.0.2.1", 80, 1), ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 443, nil)]),
        make(
            4, "redirect and DNAT change the port input sees",
            """
            table inet t {
                chain nat { type nat hook prerouting priority dstnat; policy accept;
                    tcp dport 8022 redirect to :22
                    ip daddr 198.51.100.1 tcp dport 9080 dnat ip to 192.0.2.1:80
                }
                chain input { type filter hook input priority 0; policy drop; \(established)
                    tcp dport 8022 drop
                    tcp dport { 22, 80 } accept
                }
            }
            """,
            [l(1, "tcp", "0.0.0.0", 22), l(2, "tcp", "192.0.2.1", 80)],
            [
                ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 8022, 1), ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 9080, 2),
                ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 80, nil), ("tcp", .peerA, "203.0.113.10", "192.0.2.1", 22, 1)
            ]),
        make(
            5, "notrack makes ct state new miss",
            """
            table inet t {
                chain raw { type filter hook prerouting priority raw; policy accept; udp dport { 53, 54 } notrack; }
                chain input { type filter hook input priority 0; policy drop;
                    ct state new udp dport 53 accept
                    ct state { new, untracked } udp dport 54 accept
                }
            }
            """,
            [l(1, "udp", "0.0.0.0", 53), l(2, "udp", "0.0.0.0", 54)],
            [("udp", .peerA, "192.0.2.2", "192.0.2.1", 53, nil), ("udp", .peerA, "192.0.2.2", "192.0.2.1", 54, 2)]),
        make(
            6, "device-bound socket", "",
            [l(1, "udp", "0.0.0.0", 5000, device: "pwa0")],
            [
                ("udp", .peerA, "192.0.2.2", "192.0.2.1", 5000, 1), ("udp", .peerA, "192.0.2.2", "198.51.100.1", 5000, 1),
                ("udp", .peerB, "198.51.100.2", "192.0.2.1", 5000, nil), ("udp", .peerB, "198.51.100.2", "198.51.100.1", 5000, nil)
            ]),
        make(
            7, "dual-stack and v6only",
            """
            table ip6 f { chain input { type filter hook input priority 0; policy drop; \(established); }; }
            """,
            [l(1, "tcp", "::", 2222), l(2, "tcp", "::", 2223, v6only: true)],
            [
                ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 2222, 1), ("tcp", .peerA, "2001:db8:a::2", "2001:db8:a::1", 2222, nil),
                ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 2223, nil), ("tcp", .peerB, "2001:db8:b::2", "2001:db8:b::1", 2223, nil)
            ]),
        make(
            8, "specific bind beats wildcard, weak host model", "",
            [l(1, "tcp", "0.0.0.0", 443), l(2, "tcp", "192.0.2.1", 443), l(3, "udp", "0.0.0.0", 443), l(4, "udp", "192.0.2.1", 443)],
            [
                ("tcp", .peerB, "198.51.100.2", "192.0.2.1", 443, 2), ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 443, 1),
                ("udp", .peerB, "198.51.100.2", "192.0.2.1", 443, 4), ("udp", .peerA, "192.0.2.2", "198.51.100.1", 443, 3)
            ]),
        make(
            9, "local traffic arrives on lo",
            """
            table inet t { chain input { type filter hook input priority 0; policy drop; \(established); iif lo accept; }; }
            """,
            [l(1, "tcp", "0.0.0.0", 8080), l(2, "udp", "::", 8080)],
            [
                ("tcp", .local, "192.0.2.1", "198.51.100.1", 8080, 1), ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 8080, nil),
                ("udp", .local, "2001:db8:a::1", "2001:db8:b::1", 8080, 2), ("udp", .peerB, "2001:db8:b::2", "2001:db8:b::1", 8080, nil)
            ]),
        make(
            10, "dormant table and no ruleset",
            """
            table inet d { flags dormant; chain input { type filter hook input priority 0; policy drop; }; }
            """,
            [l(1, "tcp", "0.0.0.0", 22), l(2, "udp", "127.0.0.1", 1500)],
            [
                ("tcp", .peerA, "203.0.113.10", "192.0.2.1", 22, 1), ("udp", .local, "127.0.0.1", "127.0.0.1", 1500, 2),
                ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 23, nil)
            ]),
        make(
            11, "reverse-path check with fib",
            """
            table inet t { chain pre { type filter hook prerouting priority filter; policy accept; fib saddr . iif oif missing drop; }; }
            """,
            [l(1, "udp", "0.0.0.0", 6000)],
            [
                ("udp", .peerA, "203.0.113.10", "192.0.2.1", 6000, 1), ("udp", .peerA, "203.0.113.200", "192.0.2.1", 6000, nil),
                ("udp", .peerB, "2001:db8:c::20", "2001:db8:b::1", 6000, nil), ("udp", .local, "192.0.2.1", "198.51.100.1", 6000, 1)
            ]),
        make(
            12, "prefix iifname and interval sets",
            """
            table inet t {
                set srcs { type ipv4_addr; flags interval; elements = { 203.0.113.0/25 } }
                chain input { type filter hook input priority 0; policy accept; \(established)
                    iifname "pwb*" udp dport 1000-2000 drop
                    ip saddr != @srcs tcp dport 1500 drop
                }
            }
            """,
            [l(1, "udp", "0.0.0.0", 1500), l(2, "tcp", "0.0.0.0", 1500)],
            [
                ("udp", .peerB, "198.51.100.2", "198.51.100.1", 1500, nil), ("udp", .peerA, "192.0.2.2", "192.0.2.1", 1500, 1),
                ("tcp", .peerA, "203.0.113.10", "192.0.2.1", 1500, 2), ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 1500, nil)
            ]),
        make(
            13, "a specific address beats a device-bound wildcard", "",
            [
                l(1, "udp", "192.0.2.1", 1500), l(2, "udp", "0.0.0.0", 1500, device: "pwa0"),
                l(3, "tcp", "192.0.2.1", 1500), l(4, "tcp", "0.0.0.0", 1500, device: "pwa0")
            ],
            [
                ("udp", .peerA, "192.0.2.2", "192.0.2.1", 1500, 1), ("udp", .peerA, "192.0.2.2", "198.51.100.1", 1500, 2),
                ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 1500, 3), ("tcp", .peerA, "203.0.113.10", "198.51.100.1", 1500, 4)
            ]),
        make(
            14, "notrack does not apply to host-local traffic",
            """
            table inet t {
                chain raw { type filter hook prerouting priority raw; policy accept; \(established); udp dport 5353 notrack; tcp dport 22 notrack; }
                chain input { type filter hook input priority 0; policy accept; \(established); ct state untracked drop; }
            }
            """,
            [l(1, "udp", "0.0.0.0", 5353), l(2, "tcp", "0.0.0.0", 22)],
            [
                ("udp", .peerA, "192.0.2.2", "192.0.2.1", 5353, nil), ("udp", .local, "192.0.2.1", "198.51.100.1", 5353, 1),
                ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 22, nil), ("tcp", .local, "198.51.100.1", "198.51.100.1", 22, 2)
            ]),
        // Host-local traffic to a socket bound to a device: UDP is delivered. A TCP SYN reaches the listener too
        // (delivered, in the trace contract's sense), but no connection ever completes: for IPv4 a request socket
        // appears and the SYN-ACK leaves through the bound device; for IPv6 the listener drops the SYN because its
        // SYN-ACK has no route through that device (Ip6OutNoRoutes, TcpExtListenDrops).
        make(
            15, "host-local traffic to device-bound sockets", "",
            [
                l(1, "udp", "0.0.0.0", 5000, device: "pwa0"), l(2, "tcp", "198.51.100.1", 5001, device: "pwb0"),
                l(3, "tcp", "2001:db8:a::1", 5002, device: "pwa0"), l(4, "udp", "::", 5003, v6only: true, device: "pwb0")
            ],
            [
                ("udp", .local, "198.51.100.1", "192.0.2.1", 5000, 1), ("udp", .local, "127.0.0.1", "127.0.0.1", 5000, nil),
                ("tcp", .local, "192.0.2.1", "198.51.100.1", 5001, 2), ("tcp", .local, "2001:db8:b::1", "2001:db8:a::1", 5002, 3),
                ("udp", .local, "2001:db8:a::1", "2001:db8:b::1", 5003, 4)
            ]),
        // A token bucket starts full, so a first connection passes `limit rate` and is not `over` it; a quota is decided
        // by the bytes it has counted (read from the kernel), far from its end here. None of them is access control.
        make(
            16, "limits and quotas let a first connection through",
            """
            table inet t {
                chain input { type filter hook input priority 0; policy drop; \(established)
                    tcp dport 5432 limit rate 10/second accept
                    tcp dport 22 limit rate over 1/minute drop
                    tcp dport 22 accept
                    udp dport 5353 quota until 100 mbytes accept
                    tcp dport 8080 quota over 1 mbytes drop
                    tcp dport 8080 accept
                    tcp dport 8081 quota until 0 bytes accept
                }
            }
            """,
            [
                l(1, "tcp", "0.0.0.0", 5432), l(2, "tcp", "0.0.0.0", 22), l(3, "udp", "0.0.0.0", 5353), l(4, "tcp", "::", 8080),
                l(5, "tcp", "0.0.0.0", 8081)
            ],
            [
                ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 5432, 1), ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 22, 2),
                ("udp", .peerA, "192.0.2.2", "192.0.2.1", 5353, 3), ("tcp", .peerA, "2001:db8:a::2", "2001:db8:a::1", 8080, 4),
                ("tcp", .peerA, "192.0.2.2", "192.0.2.1", 8081, nil)
            ]),
        recentLimit
    ]

    /// ufw's `limit` as iptables-nft writes it (xt `recent`: --set, then --update --hitcount 2 rejects). The list
    /// already holds peer A's address (written to /proc/net/xt_recent before the snapshot), so A's connection is the
    /// second hit and the kernel rejects it: that part depends on timing, and conditional is the right answer. Peer B
    /// is in no list: its first connection gets through, which the snapshot's lists decide.
    static var recentLimit: DiffCase {
        var c = make(
            17, "xt recent (ufw limit) decided from the lists", "",
            [l(1, "tcp", "0.0.0.0", 2222)],
            [("tcp", .peerA, "192.0.2.2", "192.0.2.1", 2222, nil), ("tcp", .peerB, "198.51.100.2", "198.51.100.1", 2222, 1)])
        c.iptables = """
            *filter
            :INPUT DROP [0:0]
            -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
            -A INPUT -p tcp --dport 2222 -m conntrack --ctstate NEW -m recent --set --name pwtlimit
            -A INPUT -p tcp --dport 2222 -m conntrack --ctstate NEW -m recent --update --seconds 600 --hitcount 2 --name pwtlimit -j REJECT --reject-with tcp-reset
            -A INPUT -p tcp --dport 2222 -j ACCEPT
            COMMIT

            """
        c.toolScript = "echo +192.0.2.2 > /proc/net/xt_recent/pwtlimit"
        c.conditionalAllowed = [1: "peer A is in the recent list: whether it has enough hits depends on when it was seen"]
        return c
    }
}
