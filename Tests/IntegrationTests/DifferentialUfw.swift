import Foundation
import Testing
import TestSupport

/// The differential harness on a ruleset written by a real tool: ufw (iptables-nft backend), configured inside the
/// host test namespace with a private mount namespace that holds private copies of its configuration.
///
/// ufw must be installed (`apt-get install ufw` with service start blocked by a `policy-rc.d` that exits 101);
/// the test is skipped when it is not. It never touches the machine's own /etc/ufw or firewall: it checks that the
/// real /etc/ufw and the root namespace's ruleset are byte-for-byte the same afterwards.
enum DiffUfw {
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/sbin/ufw") && FileManager.default.fileExists(atPath: "/usr/share/ufw/before.rules")
    }

    static let commands = [
        "ufw default deny incoming",
        "ufw allow 22/tcp",
        "ufw limit 2222/tcp",
        "ufw deny 23/tcp",
        "ufw reject 3000/tcp",
        "ufw allow in on pwa0 to any port 80 proto tcp",
        "ufw allow from 203.0.113.0/25 to any port 5353 proto udp",
        "ufw allow from 2001:db8:c::/64 to any port 443 proto tcp",
        "ufw deny from 198.51.100.2 to any port 8080",
        "ufw allow 8080",
        "ufw allow in on pwb0 from 198.51.100.0/24 to any port 1500 proto udp",
        "ufw allow 1000:2000/tcp",
        "ufw reject in on pwb0 to any port 9000 proto udp",
        "ufw allow 9000/udp"
    ]

    /// The shell script run as `unshare -m --propagation private sh -c SCRIPT` inside the host namespace.
    static func script(workDir: URL) -> String {
        let w = workDir.appendingPathComponent("ufw").path
        return """
            set -e
            W='\(w)'
            rm -rf "$W"; mkdir -p "$W/etc" "$W/lib" "$W/run"
            cp -a /etc/ufw/. "$W/etc/"
            # Pristine package rules, whatever the machine's own /etc/ufw holds.
            for f in before.rules before6.rules after.rules after6.rules before.init after.init user.rules user6.rules ufw.conf; do
                if [ -f "/usr/share/ufw/$f" ]; then cp "/usr/share/ufw/$f" "$W/etc/$f"; fi
            done
            cp -a /lib/ufw/. "$W/lib/"
            cat > "$W/default" <<'EOF'
            IPV6=yes
            DEFAULT_INPUT_POLICY="DROP"
            DEFAULT_OUTPUT_POLICY="ACCEPT"
            DEFAULT_FORWARD_POLICY="DROP"
            DEFAULT_APPLICATION_POLICY="SKIP"
            MANAGE_BUILTINS=no
            IPT_SYSCTL=
            IPT_MODULES=""
            EOF
            mount --bind "$W/etc" /etc/ufw
            mount --bind "$W/lib" /lib/ufw
            mount --bind "$W/default" /etc/default/ufw
            mount --bind "$W/run" /run
            if [ -d /var/lib/ufw ]; then mkdir -p "$W/varlib"; cp -a /var/lib/ufw/. "$W/varlib/"; mount --bind "$W/varlib" /var/lib/ufw; fi
            \(commands.joined(separator: " >/dev/null\n")) >/dev/null
            ufw --force enable >/dev/null
            ufw status verbose
            """
    }

    static func makeCase(workDir: URL) -> DiffCase {
        typealias T = DiffToolCase
        let listeners = [
            T.l(1, "tcp", "0.0.0.0", 22), T.l(2, "tcp", "::", 2222), T.l(3, "tcp", "0.0.0.0", 23), T.l(4, "tcp", "0.0.0.0", 3000),
            T.l(5, "tcp", "::", 80), T.l(6, "udp", "0.0.0.0", 5353), T.l(7, "tcp", "::", 443, v6only: true), T.l(8, "tcp", "::", 8080),
            T.l(9, "udp", "0.0.0.0", 1500), T.l(10, "tcp", "0.0.0.0", 1500), T.l(11, "udp", "::", 9000), T.l(12, "tcp", "127.0.0.1", 5432)
        ]
        let probes = T.probes(listeners, seed: 0x75_66_77, extraPorts: [])
        var conditional: [Int: String] = [:]
        for p in probes where p.origin != .local {
            // ufw's `limit` (port 2222) is xt `recent`: decided from the lists the snapshot reads (a source not in
            // them gets its first connection through), so it must agree with the kernel, not be conditional.
            // ufw6's before-input starts with xt `rt` (routing header type 0) in front of DROP.
            if p.dst.contains(":") { conditional[p.pid] = "ufw6 before-input: -m rt --rt-type 0 -j DROP (xt rt)" }
        }
        var c = DiffCase(seed: 0, layout: .none, ruleset: commands.joined(separator: "\n"), listeners: listeners, probes: probes, name: "ufw")
        c.toolScript = script(workDir: workDir)
        c.conditionalAllowed = conditional
        return c
    }
}

/// Shared by the cases whose ruleset a tool writes (ufw, firewalld).
enum DiffToolCase {
    static func l(_ id: Int, _ proto: String, _ address: String, _ port: Int, v6only: Bool = false) -> DiffListener {
        let v6 = address.contains(":")
        return DiffListener(
            id: id, proto: proto, family: v6 ? "ipv6" : "ipv4", address: address, port: port,
            v6only: v6 && (v6only || address != "::"), device: nil)
    }

    /// Each listener from every origin and every family it receives (two sources each), then each of `extraPorts`
    /// (e.g. forwarded ports) from every origin in both families.
    static func probes(_ listeners: [DiffListener], seed: UInt64, extraPorts: [(proto: String, port: Int)]) -> [DiffProbe] {
        var rng = SplitMix64(seed: seed)
        var probes: [DiffProbe] = []
        func add(_ proto: String, _ origin: ProbeOrigin, _ src: String, _ dst: String, _ port: Int) {
            let pid = probes.count + 1
            probes.append(DiffProbe(pid: pid, proto: proto, src: src, dst: dst, dport: port, sport: 30000 + pid, origin: origin))
        }
        for l in listeners {
            for origin in ProbeOrigin.allCases {
                var families: [Bool] = []
                if l.receivesV4 { families.append(false) }
                if l.receivesV6 { families.append(true) }
                for v6 in families {
                    var sources = DiffTopology.sources(origin, v6: v6)
                    if l.proto == "tcp" { sources = sources.filter { !$0.spoofed } }
                    for source in rng.sample(sources, 2) {
                        if l.address == "127.0.0.1" || l.address == "::1" {
                            if origin == .local { add(l.proto, origin, l.address, l.address, l.port) }
                            continue
                        }
                        let dst = l.isWildcard ? rng.pick(v6 ? DiffTopology.hostV6 : DiffTopology.hostV4) : l.address
                        add(l.proto, origin, source.address, dst, l.port)
                    }
                }
            }
        }
        for (proto, port) in extraPorts {
            for origin in ProbeOrigin.allCases {
                for v6 in [false, true] {
                    let sources = DiffTopology.sources(origin, v6: v6).filter { !$0.spoofed || proto == "udp" }
                    add(proto, origin, rng.pick(sources).address, rng.pick(v6 ? DiffTopology.hostV6 : DiffTopology.hostV4), port)
                }
            }
        }
        return probes
    }

    /// A fingerprint of what must not change outside the test: the tools' real configuration and the root
    /// namespace's ruleset (read only).
    static func outsideState() -> String {
        var parts: [String] = []
        for path in ["/etc/ufw", "/lib/ufw", "/etc/default/ufw", "/etc/firewalld", "/var/lib/firewalld", "/run/firewalld"] {
            if let r = try? run(["sh", "-c", "find \(path) -type f -exec sha256sum {} + 2>/dev/null | sort"], check: false) { parts.append(r.stdout) }
        }
        if let r = try? run(["nft", "list", "ruleset"], check: false) { parts.append(r.stdout) }
        return parts.joined(separator: "\n")
    }

    /// Runs one tool-written case in a lab of its own and checks that nothing outside the test changed.
    static func check(_ name: String, _ make: (URL) -> DiffCase) throws {
        let before = outsideState()
        do {
            let lab = try DiffLab()
            defer { lab.cleanup() }
            var runner = DiffRunner(lab: lab)
            runner.run(make(lab.workDir))
            print("differential \(name): \(runner.summary)")
        }
        #expect(before == outsideState(), "the machine's own \(name) configuration or the root namespace's ruleset changed during the test")
    }
}

extension DifferentialTests {
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason), .enabled(if: DiffUfw.available, "ufw is not installed"))
    func ufwRulesetAgreesWithKernel() throws {
        try DiffToolCase.check("ufw") { DiffUfw.makeCase(workDir: $0) }
    }
}
