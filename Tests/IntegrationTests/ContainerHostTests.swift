import Foundation
import Testing

/// Published container ports, proven against the kernel: the same probes go through real namespaces and through
/// `trace` on a snapshot `collect` took of the host and its container namespace; every probe's delivery and
/// receiving socket must agree. Rulesets: Docker's own iptables-nft layout (input drops everything), native nft DNAT
/// through a map with IPv6 and a forward policy drop, and both with forwarding off.
@Suite(.serialized) struct ContainerHostTests {
    /// Docker 20.10's rules for three published ports (`-p 8080:80`, `-p 8081:81` with nothing listening on 81,
    /// `-p 5353:53/udp`), a DOCKER-USER rule dropping one source, and an input chain that drops everything.
    static let dockerRules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :DOCKER - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
        -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
        -A POSTROUTING -s 198.51.100.0/24 ! -o pwbr0 -j MASQUERADE
        -A DOCKER -i pwbr0 -j RETURN
        -A DOCKER ! -i pwbr0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 198.51.100.2:80
        -A DOCKER ! -i pwbr0 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 198.51.100.2:81
        -A DOCKER ! -i pwbr0 -p udp -m udp --dport 5353 -j DNAT --to-destination 198.51.100.2:53
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        :DOCKER - [0:0]
        :DOCKER-ISOLATION-STAGE-1 - [0:0]
        :DOCKER-ISOLATION-STAGE-2 - [0:0]
        :DOCKER-USER - [0:0]
        -A INPUT -i lo -j ACCEPT
        -A FORWARD -j DOCKER-USER
        -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        -A FORWARD -o pwbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -o pwbr0 -j DOCKER
        -A FORWARD -i pwbr0 ! -o pwbr0 -j ACCEPT
        -A FORWARD -i pwbr0 -o pwbr0 -j ACCEPT
        -A DOCKER -d 198.51.100.2/32 ! -i pwbr0 -o pwbr0 -p tcp -m tcp --dport 80 -j ACCEPT
        -A DOCKER -d 198.51.100.2/32 ! -i pwbr0 -o pwbr0 -p tcp -m tcp --dport 81 -j ACCEPT
        -A DOCKER -d 198.51.100.2/32 ! -i pwbr0 -o pwbr0 -p udp -m udp --dport 53 -j ACCEPT
        -A DOCKER-ISOLATION-STAGE-1 -i pwbr0 ! -o pwbr0 -j DOCKER-ISOLATION-STAGE-2
        -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        -A DOCKER-ISOLATION-STAGE-2 -o pwbr0 -j DROP
        -A DOCKER-ISOLATION-STAGE-2 -j RETURN
        -A DOCKER-USER -s 192.0.2.10/32 -j DROP
        -A DOCKER-USER -j RETURN
        COMMIT

        """

    /// Native nftables: DNAT through a map (IPv4 and IPv6), bound to one host address for 9090, a forward chain with
    /// policy drop that accepts new connections to the bridge only from 192.0.2.0/25 and from IPv6; input drops all but
    /// IPv6 neighbour discovery (without it IPv6 does not work at all: the peer cannot resolve the host's address).
    static let nativeRules = """
        table inet pub {
          map ports4 { type inet_service : ipv4_addr . inet_service; elements = { 8080 : 198.51.100.2 . 80, 8081 : 198.51.100.2 . 81 } }
          chain pre { type nat hook prerouting priority dstnat; policy accept;
            iifname "vp0" ip daddr 192.0.2.1 dnat ip to tcp dport map @ports4
            iifname "vp0" ip daddr 192.0.2.1 tcp dport 9090 dnat ip to 198.51.100.2:80
            iifname "vp0" ip6 daddr 2001:db8::1 tcp dport 8443 dnat ip6 to [2001:db8:ac::2]:80
            iifname "vp0" udp dport 5353 dnat ip to 198.51.100.2:53
          }
          chain forward_filter { type filter hook forward priority filter; policy drop;
            ct state established,related accept
            iifname "pwbr0" accept
            oifname "pwbr0" ip saddr 192.0.2.0/25 accept
            oifname "pwbr0" meta nfproto ipv6 accept
          }
          chain input { type filter hook input priority filter; policy drop;
            iif lo accept
            icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
          }
        }

        """

    /// kube-proxy's iptables mode for a NodePort service with one endpoint (the pod is the container namespace):
    /// KUBE-MARK-MASQ marks the connection in nat prerouting, KUBE-FORWARD accepts it by that mark in a forward
    /// chain with policy drop. NodePort 30080 → pod :80, 30081 → pod :81 (nothing listens), UDP 30053 → pod :53
    /// without a mark (accepted only if a mark from outside had the bit).
    static let kubeRules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :KUBE-SERVICES - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-EXT-WEB - [0:0]
        :KUBE-SVC-WEB - [0:0]
        :KUBE-SEP-WEB - [0:0]
        :KUBE-EXT-OLD - [0:0]
        :KUBE-SEP-OLD - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-POSTROUTING - [0:0]
        -A PREROUTING -j KUBE-SERVICES
        -A POSTROUTING -j KUBE-POSTROUTING
        -A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
        -A KUBE-NODEPORTS -p tcp -m tcp --dport 30080 -j KUBE-EXT-WEB
        -A KUBE-NODEPORTS -p tcp -m tcp --dport 30081 -j KUBE-EXT-OLD
        -A KUBE-NODEPORTS -p udp -m udp --dport 30053 -j DNAT --to-destination 198.51.100.2:53
        -A KUBE-EXT-WEB -j KUBE-MARK-MASQ
        -A KUBE-EXT-WEB -j KUBE-SVC-WEB
        -A KUBE-SVC-WEB -j KUBE-SEP-WEB
        -A KUBE-SEP-WEB -p tcp -m tcp -j DNAT --to-destination 198.51.100.2:80
        -A KUBE-EXT-OLD -j KUBE-MARK-MASQ
        -A KUBE-EXT-OLD -j KUBE-SEP-OLD
        -A KUBE-SEP-OLD -p tcp -m tcp -j DNAT --to-destination 198.51.100.2:81
        -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
        -A KUBE-POSTROUTING -j MASQUERADE
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        :KUBE-FORWARD - [0:0]
        -A INPUT -i lo -j ACCEPT
        -A FORWARD -j KUBE-FORWARD
        -A FORWARD -i pwbr0 -j ACCEPT
        -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
        -A KUBE-FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT
        -A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        COMMIT

        """

    static func probes() -> [ContainerProbe] {
        var out: [ContainerProbe] = []
        for (i, (proto, src, dst, port)) in [
            ("tcp", "192.0.2.9", "192.0.2.1", 8080), ("tcp", "192.0.2.10", "192.0.2.1", 8080), ("tcp", "192.0.2.9", "192.0.2.1", 8081),
            ("tcp", "192.0.2.9", "192.0.2.2", 8080), ("tcp", "192.0.2.9", "192.0.2.1", 9090), ("tcp", "192.0.2.9", "192.0.2.2", 9090),
            ("tcp", "192.0.2.9", "192.0.2.1", 22), ("udp", "192.0.2.9", "192.0.2.1", 5353), ("udp", "192.0.2.10", "192.0.2.1", 5353),
            ("tcp", "2001:db8::9", "2001:db8::1", 8443), ("tcp", "2001:db8::9", "2001:db8::1", 8080),
            ("tcp", "192.0.2.9", "192.0.2.1", 30080), ("tcp", "192.0.2.9", "192.0.2.2", 30081), ("udp", "192.0.2.10", "192.0.2.1", 30053)
        ].enumerated() {
            out.append(ContainerProbe(id: "p\(i)", proto: proto, src: src, dst: dst, dport: port))
        }
        return out
    }

    /// Every probe: the kernel and the prediction agree on delivery and on the receiving socket; returns how many
    /// the kernel delivered (so a case proves something in both directions).
    func agree(_ lab: ContainerLab, _ label: String) throws -> (delivered: Int, refused: Int) {
        let probes = ContainerHostTests.probes()
        let v = try lab.run(probes)
        var delivered = 0
        for p in probes {
            let k = v.kernel[p.id] ?? nil
            let t = v.predicted[p.id]
            #expect(
                k == t?.port,
                "\(label) \(p.proto) \(p.src) -> \(p.dst):\(p.dport): kernel delivered to \(k.map(String.init) ?? "nothing"), portwarden said \(t.map { "\($0.verdict) to \($0.port.map(String.init) ?? "nothing")" } ?? "no line")"
            )
            if k != nil {
                delivered += 1
                #expect(t?.namespace?.contains(lab.container.name) == true, "\(label) \(p.id): namespace \(t?.namespace ?? "none")")
            }
        }
        return (delivered, probes.count - delivered)
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func dockerPublishedPortsBypassTheInputDrop() throws {
        let lab = try ContainerLab()
        defer { lab.cleanup() }
        try lab.host.exec(["iptables-nft-restore"], input: Data(ContainerHostTests.dockerRules.utf8))
        let n = try agree(lab, "docker")
        #expect(n.delivered >= 3 && n.refused >= 3, "delivered \(n.delivered), refused \(n.refused)")
        // exposure names the published port as public, with the container's socket and the deciding rules
        let x = try lab.exposure()
        let published = x["forwarded"] as? [[String: Any]] ?? []
        let web = try #require(published.first { $0["port"] as? Int == 8080 && $0["proto"] as? String == "tcp" })
        #expect(web["summary"] as? String == "public")
        #expect((web["namespace"] as? String)?.contains(lab.container.name) == true)
        #expect((web["listener"] as? [String: Any])?["port"] as? Int == 80)
        // regions and paths are indices into the document's `regions` and `paths` tables (schema 3)
        let cells = x["regions"] as? [[String: Any]] ?? []
        let pathTable = x["paths"] as? [[[String: Any]]] ?? []
        let paths = (web["regions"] as? [Int] ?? []).flatMap { pathTable[cells[$0]["pathIndex"] as? Int ?? 0] }
        #expect(paths.contains { $0["chain"] as? String == "DOCKER" && $0["hook"] as? String == "prerouting" })
        #expect(paths.contains { $0["chain"] as? String == "DOCKER" && $0["hook"] as? String == "forward" && $0["action"] as? String == "accept" })
        // nothing listens behind 8081: listed, without a listener
        let dead = try #require(published.first { $0["port"] as? Int == 8081 })
        #expect(dead["listener"] == nil)
        // the audit reports the bypass and the dead publish
        let audit = try lab.host.exec([portwardenBinary, "audit", "--netns", lab.container.name, "--format", "json", "--fail-on", "none"])
        let report = try JSONSerialization.jsonObject(with: audit.stdoutData) as? [String: Any] ?? [:]
        let findings = (report["findings"] as? [[String: Any]] ?? []).map { "\($0["ruleId"] as? String ?? "") \($0["subject"] as? String ?? "")" }
        #expect(findings.contains("PW1023 published/tcp/8080"), "\(findings)")
        #expect(findings.contains("PW1023 published/udp/5353"), "\(findings)")
        #expect(findings.contains("PW1024 published/tcp/8081"), "\(findings)")
        // policy init declares the published ports for the container (namespace selector); auditing with it keeps
        // them quiet, and narrowing the web entry to one subnet reports the publish as too wide
        let policyFile = lab.work.appendingPathComponent("policy.yaml").path
        try lab.host.exec([portwardenBinary, "policy", "init", "--netns", lab.container.name, "--output", policyFile])
        let written = try String(contentsOfFile: policyFile, encoding: .utf8)
        #expect(written.contains("namespace: \"\(lab.container.name)\""), "\(written)")
        let quiet = try lab.host.exec([
            portwardenBinary, "audit", "--netns", lab.container.name, "--policy", policyFile, "--format", "json", "--fail-on", "none"
        ])
        let quietIds = ((try JSONSerialization.jsonObject(with: quiet.stdoutData) as? [String: Any])?["findings"] as? [[String: Any]] ?? [])
            .filter { ($0["suppressed"] as? Bool) != true && $0["suppression"] == nil }.compactMap { $0["ruleId"] as? String }
        #expect(!quietIds.contains("PW1023") && !quietIds.contains("PW1027"), "\(quietIds)")
        let narrow = written.replacingOccurrences(
            of: "port: 8080\n    namespace: \"\(lab.container.name)\"\n    exposure: public",
            with: "port: 8080\n    namespace: \"\(lab.container.name)\"\n    exposure: {sources: [\"198.51.100.0/24\"]}")
        #expect(narrow != written)
        try narrow.write(toFile: policyFile, atomically: true, encoding: .utf8)
        let wide = try lab.host.exec([
            portwardenBinary, "audit", "--netns", lab.container.name, "--policy", policyFile, "--format", "json", "--fail-on", "none"
        ])
        let wideFindings = ((try JSONSerialization.jsonObject(with: wide.stdoutData) as? [String: Any])?["findings"] as? [[String: Any]] ?? [])
            .map { "\($0["ruleId"] as? String ?? "") \($0["subject"] as? String ?? "")" }
        #expect(wideFindings.contains("PW1027 published/tcp/8080"), "\(wideFindings)")
        // Docker's rules are IPv4 only: IPv6 input is unfiltered, neighbour discovery included
        #expect(!findings.contains { $0.hasPrefix("PW1026") }, "\(findings)")
        #expect(!findings.contains("PW1023 published/tcp/8081"), "nothing listens behind 8081: \(findings)")
        #expect(!findings.contains { $0.hasPrefix("PW1025 host/forwarding/ipv4") }, "Docker's forward chain filters IPv4: \(findings)")
        // IPv6 forwarding is on in the lab and Docker's rules are IPv4 only: the host routes IPv6 unfiltered
        #expect(findings.contains("PW1025 host/forwarding/ipv6/vp0/pwbr0"), "\(findings)")
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func nativeDnatMapsForwardPolicyAndIPv6() throws {
        let lab = try ContainerLab()
        defer { lab.cleanup() }
        try lab.host.nft(ContainerHostTests.nativeRules)
        let n = try agree(lab, "native")
        #expect(n.delivered >= 4 && n.refused >= 3, "delivered \(n.delivered), refused \(n.refused)")
        let audit = try lab.host.exec([portwardenBinary, "audit", "--netns", lab.container.name, "--format", "json", "--fail-on", "none"])
        let report = try JSONSerialization.jsonObject(with: audit.stdoutData) as? [String: Any] ?? [:]
        let findings = (report["findings"] as? [[String: Any]] ?? []).map { "\($0["ruleId"] as? String ?? "") \($0["subject"] as? String ?? "")" }
        #expect(!findings.contains { $0.hasPrefix("PW1026") }, "neighbour discovery is accepted here: \(findings)")
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func openForwardingIsReportedAndKernelAgrees() throws {
        let lab = try ContainerLab()
        defer { lab.cleanup() }
        // no forward chain at all, forwarding on: the peer reaches the container's socket directly, by its own address
        try lab.host.nft(
            """
            table inet f {
              chain input { type filter hook input priority 0; policy drop;
                iif lo accept
              }
            }

            """)
        let direct = ContainerProbe(id: "d0", proto: "tcp", src: "192.0.2.9", dst: "198.51.100.2", dport: 80)
        try lab.peer.exec(["ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.1"])
        let v = try lab.run([direct])
        #expect(v.kernel["d0"] == .some(80))
        #expect(v.predicted["d0"]?.port == 80)
        let audit = try lab.host.exec([portwardenBinary, "audit", "--netns", lab.container.name, "--format", "json", "--fail-on", "none"])
        let report = try JSONSerialization.jsonObject(with: audit.stdoutData) as? [String: Any] ?? [:]
        let findings = (report["findings"] as? [[String: Any]] ?? []).map { "\($0["ruleId"] as? String ?? "") \($0["subject"] as? String ?? "")" }
        #expect(findings.contains("PW1025 host/forwarding/ipv4/vp0/pwbr0"), "\(findings)")
        // the inet input chain drops everything, IPv6 neighbour discovery included
        #expect(findings.contains("PW1026 host/ipv6-nd/vp0"), "\(findings)")
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func kubeProxyNodePortsAcceptedByTheirMark() throws {
        let lab = try ContainerLab()
        defer { lab.cleanup() }
        try lab.host.exec(["iptables-nft-restore"], input: Data(ContainerHostTests.kubeRules.utf8))
        let probes = ContainerHostTests.probes()
        let v = try lab.run(probes)
        for p in probes {
            let k = v.kernel[p.id] ?? nil
            #expect(
                k == v.predicted[p.id]?.port,
                "kube \(p.proto) \(p.src) -> \(p.dst):\(p.dport): kernel \(k.map(String.init) ?? "nothing"), portwarden \(v.predicted[p.id].map { "\($0.verdict) \($0.port.map(String.init) ?? "nothing")" } ?? "none")"
            )
        }
        // the marked NodePort is decided (not conditional); the unmarked UDP one depends on a mark from outside the
        // ruleset (tc or another module could set bit 0x4000): conditional, and the kernel here dropped it
        let web = try #require(probes.first { $0.dport == 30080 })
        #expect(v.kernel[web.id] == .some(80))
        #expect(v.predicted[web.id]?.verdict == "accept")
        let dns = try #require(probes.first { $0.dport == 30053 })
        #expect(v.kernel[dns.id] == .some(nil))
        #expect(v.predicted[dns.id]?.verdict == "conditional")
    }

    /// The container's own rules accept the web port only from the host's bridge address, DNS from the client subnet.
    static let sourceFilter = """
        table inet c {
          chain input { type filter hook input priority 0; policy drop;
            ip saddr 198.51.100.1 tcp dport 80 accept
            ip saddr 192.0.2.0/24 udp dport 53 accept
          }
        }

        """

    /// kube-proxy masquerades the NodePort connection it marked: the pod sees the node's bridge address (its rules
    /// accept it), and the trace names the masquerade; Docker masquerades only its containers' own outbound traffic,
    /// so a published port keeps the client's source (the pod's rules refuse TCP from it, accept its DNS).
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func theContainerSeesTheSourceAfterTheHostsMasquerade() throws {
        for (label, rules) in [("kube masquerade", ContainerHostTests.kubeRules), ("docker no masquerade", ContainerHostTests.dockerRules)] {
            let lab = try ContainerLab()
            defer { lab.cleanup() }
            try lab.host.exec(["iptables-nft-restore"], input: Data(rules.utf8))
            try lab.container.nft(ContainerHostTests.sourceFilter)
            let n = try agree(lab, label)
            #expect(n.delivered >= 1, "\(label): delivered \(n.delivered)")
            let snap = lab.work.appendingPathComponent("snap.json").path
            if label.hasPrefix("kube") {
                let web = try runCommand([
                    portwardenBinary, "trace", "--snapshot", snap, "--format", "json", "--iif", "vp0", "--proto", "tcp", "--src", "192.0.2.9",
                    "--dst", "192.0.2.1",
                    "--dport", "30080"
                ])
                let o = try JSONSerialization.jsonObject(with: web.stdoutData) as? [String: Any] ?? [:]
                let actions = (o["path"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
                #expect(actions.contains("masquerade to 198.51.100.1"), "\(actions)")
                #expect(o["verdict"] as? String == "accept", "\(o)")
            } else {
                let x = try lab.exposure()
                let published = x["forwarded"] as? [[String: Any]] ?? []
                let web = try #require(published.first { $0["port"] as? Int == 8080 && $0["proto"] as? String == "tcp" })
                // No client reaches it; only a packet claiming the bridge's own address as its source would pass the
                // container's rule (the kernel drops such martians before the forward hook; not modelled).
                // regions are indices into the document's `regions` table (schema 3); a short source list is inline
                let cells = x["regions"] as? [[String: Any]] ?? []
                let sources = (web["regions"] as? [Int] ?? []).flatMap { cells[$0]["sources"] as? [String] ?? [] }
                #expect(Set(sources) == ["198.51.100.1"], "\(web)")
                let dns = try #require(published.first { $0["port"] as? Int == 5353 && $0["proto"] as? String == "udp" })
                #expect(dns["summary"] as? String == "restricted", "\(dns)")
            }
        }
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func forwardingOffDeliversNothing() throws {
        let lab = try ContainerLab()
        defer { lab.cleanup() }
        try lab.host.nft(ContainerHostTests.nativeRules)
        try lab.host.exec(["sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"])
        let n = try agree(lab, "forwarding off")
        #expect(n.delivered == 0)
        let x = try lab.exposure()
        #expect((x["forwarded"] as? [Any])?.isEmpty == true)
    }
}
