import Foundation
import HostModel
import Serialization
import Testing

/// The varied ruleset the differential tests load, and the ways to read it back: our reader (through
/// `portwarden collect`, or the NetlinkTests `LiveRead` bridge for reader options collect does not expose) and
/// `nft -j list ruleset`.
enum RulesetFixture {
    /// Ports 20000…(20000+count-1): a set big enough that its dump spans many netlink datagrams.
    static let bigSetSize = 10_000

    static var ruleset: String {
        let bigPorts = (0..<bigSetSize).map { String(20_000 + $0) }.joined(separator: ", ")
        return """
            flush ruleset
            table inet filter {
                set allowed4 { type ipv4_addr; elements = { 192.0.2.1, 198.51.100.7, 203.0.113.200 }; }
                set nets { type ipv4_addr; flags interval; elements = { 192.0.2.0/24, 198.51.100.16/28, 203.0.113.5, 203.0.113.64-203.0.113.70 }; }
                set nets6 { type ipv6_addr; flags interval; elements = { 2001:db8::/64, 2001:db8:1::5, 2001:db8:2::1-2001:db8:2::9 }; }
                set pairs { type ipv4_addr . inet_service; elements = { 192.0.2.1 . 22, 198.51.100.2 . 443, 203.0.113.9 . 8080 }; }
                set ranges { type ipv4_addr . inet_service; flags interval; elements = { 192.0.2.10 . 22-25, 198.51.100.0/24 . 1000-2000 }; }
                set ports { type inet_service; flags interval; elements = { 1-21, 8000-8999, 65000 }; }
                set marks { type mark; elements = { 0x00000005, 0x00000100 }; }
                set big { type inet_service; elements = { \(bigPorts) }; }
                map vm { type inet_service : verdict; elements = { 22 : accept, 23 : jump sub, 24 : drop, 25 : goto sub2, 26 : return }; }
                chain input {
                    type filter hook input priority -10; policy drop;
                    iif "lo" accept
                    ct state established,related accept
                    tcp dport 22 accept comment "ssh in"
                    tcp dport { 80, 443 } accept
                    tcp dport 1000-2000 ip saddr 192.0.2.0/24 accept
                    tcp dport 7000 jump { udp dport 7001 accept; }
                    ip saddr @nets drop
                    ip6 saddr @nets6 drop
                    ip6 saddr 2001:db8::/32 tcp dport != 8000-8100 accept comment "v6 range"
                    tcp dport vmap { 5000 : accept, 5001 : jump sub, 5002 : goto sub2, 5003 : drop }
                    tcp dport vmap @vm
                    ip saddr . tcp dport @pairs accept
                    ip saddr . tcp dport @ranges accept
                    tcp dport @big counter accept
                    udp dport @ports accept
                    iifname "veth*" udp dport 53 counter accept
                    meta mark @marks accept
                    meta skuid 1000-2000 accept
                    fib daddr type local tcp dport 9000 limit rate 10/second log prefix "pw " accept
                    reject with icmpx admin-prohibited
                }
                chain sub { counter return; }
                chain sub2 { tcp dport 5002 reject with tcp reset; }
                chain pre {
                    type nat hook prerouting priority dstnat; policy accept;
                    tcp dport 8080 dnat ip to 192.0.2.2:80
                    tcp dport 8081 redirect to :80
                }
                chain raw {
                    type filter hook prerouting priority -300; policy accept;
                    udp dport 123 notrack
                }
                chain early { type filter hook input priority -150; policy accept; }
            }
            table ip v4 {
                chain in4 {
                    type filter hook input priority 5; policy accept;
                    ip saddr 198.51.100.0/24 tcp dport 25 drop comment "no smtp"
                }
                chain out4 { type filter hook output priority 100; policy accept; }
            }
            table ip6 v6 {
                chain in6 {
                    type filter hook input priority 0; policy accept;
                    ip6 saddr 2001:db8:1::/48 accept
                }
            }
            table netdev edge {
                chain ing {
                    type filter hook ingress device "pwveth0" priority -500; policy accept;
                    ip saddr 203.0.113.0/24 drop
                }
            }
            table ip dormantt {
                flags dormant
                chain c { type filter hook input priority 0; policy drop; }
            }
            """
    }

    /// Loads the ruleset (plus iptables-nft rules and the netdev chain's veth device) into `ns`.
    static func load(into ns: TestNamespace) throws {
        try ns.exec(["ip", "link", "add", "pwveth0", "type", "veth", "peer", "name", "pwveth1"])
        try ns.nft(ruleset)
        try ns.exec(["iptables-nft", "-A", "INPUT", "-p", "tcp", "-m", "multiport", "--dports", "80,443", "-j", "ACCEPT"])
        try ns.exec(["iptables-nft", "-A", "INPUT", "-s", "198.51.100.0/24", "-m", "comment", "--comment", "xt comment", "-j", "DROP"])
        try ns.exec(["iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "3000:3100", "-j", "ACCEPT"])
        try ns.exec(["ip6tables-nft", "-A", "INPUT", "-s", "2001:db8::/32", "-p", "udp", "--dport", "53", "-j", "ACCEPT"])
    }

    // MARK: - Reading

    /// `portwarden collect` inside `ns`: the snapshot's firewall.
    static func collect(in ns: TestNamespace) throws -> Firewall {
        let result = try ns.exec([portwardenBinary, "collect", "--netns", "host"])
        return try SnapshotCodec.decode(result.stdoutData).firewall
    }

    /// What the NetlinkTests `LiveRead` bridge writes (mirrors its `LiveReport`).
    struct LiveReport: Decodable {
        struct Read: Decodable {
            var generation: UInt32
            var attempts: Int
            var tables: [Table]
        }
        var generationBefore: UInt32?
        var generationAfter: UInt32?
        var reads: [Read]
        var error: String?
        var errno: Int32?
    }

    /// The test binary (it holds the NetlinkTests bridge too).
    static var testBinary: String {
        if let explicit = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_TEST_BINARY"] { return explicit }
        let arg0 = CommandLine.arguments[0]
        if arg0.hasPrefix("/") { return arg0 }
        return FileManager.default.currentDirectoryPath + "/" + arg0
    }

    /// Runs `NftablesReader` inside `ns` through the bridge, its dumps shared by `workers` sockets. `asUser` drops to
    /// that uid with no capabilities.
    static func bridge(
        in ns: TestNamespace, strategy: String = "perChain", reads: Int = 1, maxAttempts: Int = 5, workers: Int = 1,
        asUser uid: Int? = nil
    ) throws -> LiveReport {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-ruleset-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = chmod(dir.path, 0o777)
        let output = dir.appendingPathComponent("report.json").path
        var command = [
            "env", "PORTWARDEN_LIVE_NETNS=1", "PORTWARDEN_LIVE_OUTPUT=\(output)", "PORTWARDEN_LIVE_STRATEGY=\(strategy)",
            "PORTWARDEN_LIVE_READS=\(reads)", "PORTWARDEN_LIVE_MAX_ATTEMPTS=\(maxAttempts)", "PORTWARDEN_LIVE_WORKERS=\(workers)",
            testBinary, "--testing-library", "swift-testing", "--filter", "NetlinkTests.LiveRead"
        ]
        if let uid {
            command = ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"] + command
        }
        let result = try ns.exec(command, check: false)
        guard let data = FileManager.default.contents(atPath: output) else {
            throw ShellError.failed(command: command, status: result.status, stderr: result.stderr + result.stdout)
        }
        return try JSONDecoder().decode(LiveReport.self, from: data)
    }

    /// `nft -j list ruleset` inside `ns`, parsed.
    static func nftJSON(in ns: TestNamespace) throws -> NftJSON {
        try NftJSON(data: ns.exec(["nft", "-j", "list", "ruleset"]).stdoutData)
    }
}

/// `nft -j list ruleset`, split by object kind (each kind in listing order).
struct NftJSON {
    var raw: Data
    var tables: [[String: Any]] = []
    var chains: [[String: Any]] = []
    var sets: [[String: Any]] = []  // sets and maps
    var rules: [[String: Any]] = []

    init(data: Data) throws {
        raw = data
        let top = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let objects = try #require(top["nftables"] as? [[String: Any]])
        for o in objects {
            if let t = o["table"] as? [String: Any] { tables.append(t) }
            if let c = o["chain"] as? [String: Any] { chains.append(c) }
            if let s = o["set"] as? [String: Any] { sets.append(s) }
            if let m = o["map"] as? [String: Any] { sets.append(m) }
            if let r = o["rule"] as? [String: Any] { rules.append(r) }
        }
    }
}
