import Foundation
import Testing
import TestSupport

// End-to-end tests of `portwarden audit` and `portwarden policy init` on a live host: a network namespace with a real
// nftables ruleset and real sockets held by processes with realistic names, audited from inside the namespace exactly as
// a CI job on the host would (issue 5). Documentation addresses only; nothing outside the `pwt-` namespaces is touched.

/// Holder for the audit tests: opens the sockets given as `proto:address:port` arguments (IPv6 ones v6only) and writes
/// "ready" to argv[1]. It is started through a symlink named after the service (`postgres`, `sshd`, …): the kernel takes
/// a process's name (comm) from the file name that was executed, so every service gets its own owner name.
let auditHolderScript = #"""
    import socket, sys, time
    keep = []
    for spec in sys.argv[2:]:
        proto, rest = spec.split(":", 1)
        addr, port = rest.rsplit(":", 1)
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, int(port)))
        if proto == "tcp": s.listen()
        keep.append(s)
    open(sys.argv[1], "w").write("ready\n")
    time.sleep(300)
    """#

/// TCP connect from the peer namespace: argv = source address, destination, port; exit 0 when the handshake completes.
let connectProbeScript = #"""
    import socket, sys
    try:
        socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=1.5, source_address=(sys.argv[1], 0)).close()
    except OSError:
        sys.exit(1)
    """#

/// The host's ruleset: drop by default; SSH and Redis open to everyone, PostgreSQL from 198.51.100.0/24 only, DNS over UDP;
/// IPv6 neighbour discovery (last, so the other rules keep their handles).
let auditRuleset = """
    table inet filter {
        chain input {
            type filter hook input priority 0; policy drop;
            iifname "lo" accept
            ct state established,related accept
            tcp dport 22 accept
            ip saddr 198.51.100.0/24 tcp dport 5432 accept
            tcp dport 6379 accept
            udp dport 53 accept
            icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
        }
    }
    """

/// A policy that declares some of the host's services, some of them more narrowly than the host runs them.
/// Line numbers matter: the tests check the policy locations of the findings.
let declaredPolicy = """
    version: 1
    listeners:
      - name: ssh
        proto: tcp
        port: 22
        exposure:
          sources: [203.0.113.0/24]
        owner: {process: sshd}
      - name: postgres
        proto: tcp
        port: 5432
        bind: [192.0.2.10]
        exposure:
          sources: [198.51.100.0/24]
        owner: {process: postgres}
      - name: dns
        proto: udp
        port: 53
        exposure: public
        owner: {process: unbound}
      - name: app
        proto: tcp
        port: 8080
        bind: loopback
        owner: {process: app}
      - name: https
        proto: tcp
        port: 443
        required: true

    """

/// One finding of a JSON report, reduced to what the tests compare.
struct AuditedFinding: Hashable, CustomStringConvertible {
    var ruleId: String
    var subject: String
    var severity: String
    var description: String { "\(ruleId) \(subject) \(severity)" }
}

/// The parts of the JSON report (`portwarden-findings/1`) the tests read.
struct FindingsReport: Decodable {
    struct Location: Decodable { var file: String; var line: Int; var column: Int }
    struct Suppression: Decodable { var reason: String }
    struct Entry: Decodable {
        var ruleId: String
        var subject: String
        var severity: String
        var fingerprint: String
        var conditional: Bool
        var suppression: Suppression?
        var policyLocation: Location?
    }
    var schema: String
    var findings: [Entry]

    /// Unsuppressed findings as (rule, subject, severity).
    var active: Set<AuditedFinding> {
        Set(findings.filter { $0.suppression == nil }.map { AuditedFinding(ruleId: $0.ruleId, subject: $0.subject, severity: $0.severity) })
    }

    func entry(_ ruleId: String, _ subject: String) -> Entry? { findings.first { $0.ruleId == ruleId && $0.subject == subject } }
}

func finding(_ ruleId: String, _ subject: String, _ severity: String) -> AuditedFinding {
    AuditedFinding(ruleId: ruleId, subject: subject, severity: severity)
}

/// `../shared/tools/validate-sarif` beside the repository; nil (and a failure under PORTWARDEN_REQUIRE_NETNS=1, i.e. CI)
/// when it is absent. The same rule as ReportingTests' `sarifValidator()`, which this target cannot import.
func integrationSarifValidator() -> String? {
    let repo = repositoryRoot
    let tool = repo.deletingLastPathComponent().appendingPathComponent("shared/tools/validate-sarif").path
    guard FileManager.default.isExecutableFile(atPath: tool) else {
        #expect(!NetnsGate.required, "\(tool) is missing: it is needed to validate SARIF output")
        return nil
    }
    return tool
}

/// The live host: namespace `host` (d0: 192.0.2.10/24 and 2001:db8::10/64, default route via the peer) joined by a veth
/// to namespace `peer` (d1: 192.0.2.1/24, plus 198.51.100.7/32 to connect from the PostgreSQL client range).
final class AuditHost {
    let dir: TempDir
    let host: TestNamespace
    let peer: TestNamespace
    private let python: String

    init(_ tag: String) throws {
        dir = try TempDir(tag)
        python = try #require(
            ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "a python3 executable outside PATH shims is needed for the service holders")
        host = try TestNamespace(tag)
        peer = try TestNamespace("\(tag)p")
        try host.veth("d0", "d1", peer: peer)
        try host.exec(["ip", "addr", "add", "192.0.2.10/24", "dev", "d0"])
        try host.exec(["ip", "addr", "add", "2001:db8::10/64", "dev", "d0", "nodad"])
        try host.exec(["ip", "route", "add", "default", "via", "192.0.2.1"])
        try peer.exec(["ip", "addr", "add", "192.0.2.1/24", "dev", "d1"])
        try peer.exec(["ip", "addr", "add", "198.51.100.7/32", "dev", "d1"])
        try peer.exec(["ip", "addr", "add", "2001:db8::1/64", "dev", "d1", "nodad"])
        try Data(auditHolderScript.utf8).write(to: URL(fileURLWithPath: dir.file("holder.py")))
        try Data(connectProbeScript.utf8).write(to: URL(fileURLWithPath: dir.file("probe.py")))
        try host.nft(auditRuleset)
    }

    func cleanup() {
        host.cleanup()
        peer.cleanup()
    }

    /// The standard services: sshd on 22 and redis on 6379 (open to all), postgres on 5432 (wildcard bind, firewall
    /// restricts it to 198.51.100.0/24), an app on loopback 8080, and a DNS server on UDP 53.
    static func standard(_ tag: String) throws -> AuditHost {
        let h = try AuditHost(tag)
        do {
            try h.start("sshd", ["tcp:0.0.0.0:22"])
            try h.start("postgres", ["tcp:0.0.0.0:5432"])
            try h.start("redis-server", ["tcp:0.0.0.0:6379"])
            try h.start("app", ["tcp:127.0.0.1:8080"])
            try h.start("dnsmasq", ["udp:0.0.0.0:53"])
        } catch {
            h.cleanup()
            throw error
        }
        return h
    }

    /// Starts a holder process named `name` in the host namespace with these sockets, and waits until they are open.
    func start(_ name: String, _ sockets: [String]) throws {
        let link = dir.file(name)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: python)
        let ready = dir.file("\(name).ready")
        try host.spawn([link, dir.file("holder.py"), ready] + sockets)
        try waitForFile(ready)
    }

    /// Whether a TCP handshake from the peer (with source `source`) to `address:port` completes.
    func connects(from source: String, to address: String, _ port: Int) throws -> Bool {
        try peer.exec([python, dir.file("probe.py"), source, address, String(port)], check: false).status == 0
    }

    /// `portwarden <arguments>` run live in the host namespace.
    func portwarden(_ arguments: [String]) throws -> CommandResult {
        try host.exec([portwardenBinary] + arguments, check: false)
    }

    /// `portwarden audit --format json <arguments>`: the exit status and the decoded report.
    func auditJSON(_ arguments: [String]) throws -> (status: Int32, report: FindingsReport) {
        let r = try portwarden(["audit", "--format", "json"] + arguments)
        try #require(r.status == 0 || r.status == 1, "audit \(arguments) exited \(r.status): \(r.stderr)")
        let report = try JSONDecoder().decode(FindingsReport.self, from: r.stdoutData)
        #expect(report.schema == "portwarden-findings/1")
        return (r.status, report)
    }

    /// Writes `text` into the test's directory and returns the path.
    func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: dir.file(name)))
        return dir.file(name)
    }
}

@Suite(.serialized) struct AuditEndToEndTests {
    /// The built-in policy declares nothing: it reports the sensitive services reachable beyond loopback, graded by how
    /// wide the accepted sources are, and leaves sshd, DNS and the loopback app alone.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func defaultPolicyOnLiveHost() throws {
        let h = try AuditHost.standard("aud")
        defer { h.cleanup() }

        // The namespace behaves as the findings will claim: Redis answers anyone, PostgreSQL only 198.51.100.0/24.
        #expect(try h.connects(from: "192.0.2.1", to: "192.0.2.10", 6379))
        #expect(try h.connects(from: "198.51.100.7", to: "192.0.2.10", 5432))
        #expect(try !h.connects(from: "192.0.2.1", to: "192.0.2.10", 5432))
        #expect(try !h.connects(from: "192.0.2.1", to: "192.0.2.10", 8080))

        let (status, report) = try h.auditJSON([])
        #expect(
            report.active == [
                finding("PW1006", "listener/tcp/0.0.0.0:6379", "critical"),  // public
                finding("PW1006", "listener/tcp/0.0.0.0:5432", "high")  // one /24
            ], "\(report.active)")
        #expect(report.findings.allSatisfy { !$0.conditional && $0.suppression == nil && $0.fingerprint.count == 32 })
        #expect(status == 1, "default --fail-on medium")

        // Thresholds: the exit code follows --fail-on and --ignore, the report does not change.
        #expect(try h.auditJSON(["--fail-on", "critical"]).status == 1)
        #expect(try h.auditJSON(["--fail-on", "none"]).status == 0)
        let ignored = try h.auditJSON(["--ignore", "sensitive-service-exposed", "--fail-on", "info"])
        #expect(ignored.report.active.isEmpty && ignored.status == 0)

        // Text (the README's command): both findings, under their severities, and the summary line.
        let text = try h.portwarden(["audit"])
        #expect(text.status == 1)
        #expect(text.stdout.contains("CRITICAL (1)\n  PW1006 sensitive-service-exposed  tcp 0.0.0.0:6379"), "\(text.stdout)")
        #expect(text.stdout.contains("HIGH (1)\n  PW1006 sensitive-service-exposed  tcp 0.0.0.0:5432"), "\(text.stdout)")
        #expect(text.stdout.contains("Summary: 1 critical, 1 high, 0 medium, 0 low, 0 info; 0 suppressed;"), "\(text.stdout)")
        #expect(!text.stdout.contains("\u{1B}["), "no colour when stdout is not a terminal")
    }

    /// A policy that declares the services narrower than the host runs them: every kind of policy finding, with the
    /// policy line it violates, and the exit code for each --fail-on threshold. SARIF of the same run validates.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func declaredPolicyOnLiveHost() throws {
        let h = try AuditHost.standard("aupol")
        defer { h.cleanup() }
        let policy = try h.write("policy.yaml", declaredPolicy)

        let (status, report) = try h.auditJSON(["--policy", policy])
        #expect(
            report.active == [
                finding("PW1006", "listener/tcp/0.0.0.0:6379", "critical"),  // Redis, public
                finding("PW1001", "listener/tcp/0.0.0.0:6379", "high"),  // ... and not declared
                finding("PW1002", "policy/listener/tcp/443", "high"),  // required, nothing listens
                finding("PW1003", "listener/udp/0.0.0.0:53", "high"),  // dnsmasq where unbound is expected
                finding("PW1004", "listener/tcp/0.0.0.0:22", "high"),  // public, policy: 203.0.113.0/24
                finding("PW1005", "listener/tcp/0.0.0.0:5432", "medium")  // 0.0.0.0, policy: 192.0.2.10 (firewall restricts it)
            ], "\(report.active)")
        #expect(status == 1)
        // The declared PostgreSQL exposure matches the firewall: no exposure finding for it, only the bind.
        #expect(!report.findings.contains { $0.subject == "listener/tcp/0.0.0.0:5432" && $0.ruleId != "PW1005" })
        // Each policy finding points at the entry it violates.
        func line(_ rule: String, _ subject: String) -> Int? { report.entry(rule, subject)?.policyLocation?.line }
        #expect(line("PW1004", "listener/tcp/0.0.0.0:22") == 3)
        #expect(line("PW1005", "listener/tcp/0.0.0.0:5432") == 9)
        #expect(line("PW1003", "listener/udp/0.0.0.0:53") == 16)
        #expect(line("PW1002", "policy/listener/tcp/443") == 26)
        #expect(report.entry("PW1004", "listener/tcp/0.0.0.0:22")?.policyLocation?.file.hasSuffix("policy.yaml") == true)

        // --fail-on: 1 at or below the worst finding, 0 above it.
        #expect(try h.auditJSON(["--policy", policy, "--fail-on", "critical"]).status == 1)
        let noCritical = ["--policy", policy, "--ignore", "PW1006", "--ignore", "undeclared-listener"]
        let withoutRedis = try h.auditJSON(noCritical + ["--fail-on", "critical"])
        #expect(withoutRedis.status == 0)
        #expect(withoutRedis.report.active.map(\.ruleId).sorted() == ["PW1002", "PW1003", "PW1004", "PW1005"])
        #expect(try h.auditJSON(noCritical + ["--fail-on", "high"]).status == 1)
        let onlyBind = try h.auditJSON([
            "--policy", policy, "--ignore", "PW1001", "--ignore", "PW1002", "--ignore", "PW1003",
            "--ignore", "PW1004", "--ignore", "PW1006", "--fail-on", "high"
        ])
        #expect(onlyBind.report.active == [finding("PW1005", "listener/tcp/0.0.0.0:5432", "medium")] && onlyBind.status == 0)

        // SARIF of the live audit: valid, one result per finding, same rules, the exit code unchanged by --output.
        let sarifPath = h.dir.file("audit.sarif")
        let sarif = try h.portwarden(["audit", "--policy", policy, "--format", "sarif", "--fail-on", "high", "--output", sarifPath])
        #expect(sarif.status == 1, "\(sarif.stderr)")
        #expect(sarif.stdout.isEmpty, "--output writes the report to the file only")
        let data = try Data(contentsOf: URL(fileURLWithPath: sarifPath))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(doc["version"] as? String == "2.1.0")
        let results = try #require((doc["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["ruleId"] as? String }.sorted() == ["PW1001", "PW1002", "PW1003", "PW1004", "PW1005", "PW1006"])
        #expect(results.allSatisfy { ($0["locations"] as? [Any])?.isEmpty == false })
        #expect(results.first { $0["ruleId"] as? String == "PW1006" }?["level"] as? String == "error")
        if let tool = integrationSarifValidator() {
            let v = try run([tool, sarifPath], check: false)
            #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        }
    }

    /// The configuration-repository recipe (docs/audit-ci.md): `collect --output` on the host as root, then
    /// `audit --snapshot` elsewhere without any privilege gives the same findings and exit codes as the live audit.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func savedSnapshotAuditedWithoutPrivileges() throws {
        let h = try AuditHost.standard("ausnap")
        defer { h.cleanup() }
        let policy = try h.write("policy.yaml", declaredPolicy)
        let snapshot = h.dir.file("host.json")
        let collected = try h.portwarden(["collect", "--output", snapshot])
        try #require(collected.status == 0, "\(collected.stderr)")
        let live = try h.auditJSON(["--policy", policy])

        // Offline, as uid/gid 65534 with no capabilities, outside any test namespace: only files are read.
        let nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", portwardenBinary]
        let json = try run(nobody + ["audit", "--snapshot", snapshot, "--policy", policy, "--format", "json", "--fail-on", "high"], check: false)
        #expect(json.status == 1, "\(json.stderr)")
        let offline = try JSONDecoder().decode(FindingsReport.self, from: json.stdoutData)
        #expect(offline.active == live.report.active, "offline \(offline.active) vs live \(live.report.active)")
        #expect(offline.findings.map(\.fingerprint).sorted() == live.report.findings.map(\.fingerprint).sorted())
        #expect(offline.entry("PW1002", "policy/listener/tcp/443")?.policyLocation?.line == 26)

        let sarif = try run(
            nobody + ["audit", "--snapshot", snapshot, "--policy", policy, "--format", "sarif", "--fail-on", "critical"], check: false)
        #expect(sarif.status == 1, "the Redis finding is critical: \(sarif.stderr)")
        let ignored = try run(
            nobody + [
                "audit", "--snapshot", snapshot, "--policy", policy, "--format", "sarif", "--fail-on", "critical",
                "--ignore", "PW1006"
            ], check: false)
        #expect(ignored.status == 0, "\(ignored.stderr)")
        if let tool = integrationSarifValidator() {
            let file = try h.write("offline.sarif", sarif.stdout)
            let v = try run([tool, file], check: false)
            #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        }
        // Without privileges the live host cannot be read: exit 3, not a silently empty audit.
        let unprivileged = try h.host.exec(nobody + ["audit", "--policy", policy], check: false)
        #expect(unprivileged.status == 3, "\(unprivileged.stdout)\(unprivileged.stderr)")
        // With --format prometheus the metrics file still says so: success 0, this machine's hostname, no counts.
        let metrics = h.dir.file("metrics")
        try FileManager.default.createDirectory(atPath: metrics, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        let prom = metrics + "/portwarden.prom"
        let failed = try h.host.exec(nobody + ["audit", "--policy", policy, "--format", "prometheus", "--output", prom], check: false)
        #expect(failed.status == 3, "\(failed.stderr)")
        let hostname = try h.host.exec(["uname", "-n"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let text = (try? String(contentsOfFile: prom, encoding: .utf8)) ?? ""
        #expect(text.contains("portwarden_last_run_success{host=\"\(hostname)\"} 0\n"), "\(text)")
        #expect(!text.contains("portwarden_findings"), "\(text)")
    }

    /// Every `portwarden audit|collect|policy init` command in the CI documentation and the example workflow uses only
    /// options the CLI has, with values it accepts. Needs no privilege.
    @Test func documentedCommandsMatchTheCLI() throws {
        let repo = repositoryRoot
        var options: [String: Set<String>] = [:]
        for sub in ["audit", "collect", "policy init"] {
            let help = try run([portwardenBinary] + sub.split(separator: " ").map(String.init) + ["--help"])
            options[sub] = Set(help.stdout.split(whereSeparator: { !($0.isLetter || $0 == "-") }).filter { $0.hasPrefix("--") }.map(String.init))
            #expect(options[sub]?.contains("--output") == true, "\(sub) --help lists its options")
        }
        let values = [
            "--format": ["text", "json", "sarif", "codequality", "prometheus"], "--fail-on": ["info", "low", "medium", "high", "critical", "none"]
        ]
        var checked = 0
        for doc in [
            "docs/audit-ci.md", "examples/github-actions/portwarden-audit.yml", "examples/gitlab-ci/portwarden.gitlab-ci.yml",
            "examples/systemd/portwarden-audit.service"
        ] {
            let text = try String(contentsOf: repo.appendingPathComponent(doc), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let tokens = line.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "`,;()")) }
                guard let at = tokens.firstIndex(where: { $0 == "portwarden" || $0.hasSuffix("/portwarden") }), at + 1 < tokens.count else {
                    continue
                }
                let sub = tokens[at + 1] == "policy" ? "policy init" : tokens[at + 1]
                guard let known = options[sub] else { continue }
                checked += 1
                let args = Array(tokens[(at + 1)...])
                for (i, t) in args.enumerated() where t.hasPrefix("--") {
                    #expect(known.contains(t), "\(doc): `\(t)` is not an option of portwarden \(sub): \(line)")
                    if let allowed = values[t], i + 1 < args.count { #expect(allowed.contains(args[i + 1]), "\(doc): \(t) \(args[i + 1]): \(line)") }
                }
            }
        }
        #expect(checked >= 8, "the documents contain the audit and collect commands (\(checked) found)")
    }

    /// A bad policy is exit 2 with `file:line:column` and what was expected, on the live host as offline.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func badPolicyExitsTwo() throws {
        let h = try AuditHost("aubad")
        defer { h.cleanup() }
        let typo = try h.write("typo.yaml", "version: 1\nlisteners:\n  - proto: tcp\n    port: 22\n    exposur: public\n")
        let r1 = try h.portwarden(["audit", "--policy", typo, "--format", "sarif"])
        #expect(r1.status == 2)
        #expect(r1.stderr.contains("\(typo):5:5:") && r1.stderr.contains("exposur"), "\(r1.stderr)")
        #expect(r1.stdout.isEmpty, "no report for an invalid policy")
        let cidr = try h.write("cidr.yaml", "version: 1\nlisteners:\n  - proto: tcp\n    port: 22\n    exposure: {sources: [10.0.0.300/8]}\n")
        let r2 = try h.portwarden(["audit", "--policy", cidr])
        #expect(r2.status == 2)
        #expect(r2.stderr.contains("\(cidr):5:26:") && r2.stderr.contains("10.0.0.300/8"), "\(r2.stderr)")
        let r3 = try h.portwarden(["audit", "--policy", h.dir.file("missing.yaml")])
        #expect(r3.status == 2, "\(r3.stderr)")
    }

    /// The issue's "done when": `policy init` describes the host, the audit against it is clean, and a CI job fails as soon
    /// as someone opens an unexpected port.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func policyInitThenUnexpectedPortFails() throws {
        let h = try AuditHost.standard("auinit")
        defer { h.cleanup() }
        let generated = h.dir.file("host-policy.yaml")
        let initRun = try h.portwarden(["policy", "init", "--output", generated])
        try #require(initRun.status == 0, "\(initRun.stderr)")
        let text = try String(contentsOfFile: generated, encoding: .utf8)
        for port in ["22", "5432", "6379", "8080", "53"] { #expect(text.contains("\n    port: \(port)\n"), "port \(port) declared") }
        #expect(text.contains("owner: {process: \"redis-server\""))

        let clean = try h.auditJSON(["--policy", generated, "--fail-on", "info"])
        #expect(clean.report.active.isEmpty, "\(clean.report.active)")
        #expect(clean.status == 0)

        // A new service that the firewall still blocks is not reachable, so not an undeclared *reachable* listener.
        try h.start("mongod", ["tcp:0.0.0.0:27017"])
        let blocked = try h.auditJSON(["--policy", generated, "--fail-on", "info"])
        #expect(blocked.report.active.isEmpty && blocked.status == 0, "\(blocked.report.active)")

        // Someone opens the port: the job fails.
        try h.host.exec(["nft", "add", "rule", "inet", "filter", "input", "tcp", "dport", "27017", "accept"])
        #expect(try h.connects(from: "192.0.2.1", to: "192.0.2.10", 27017))
        let opened = try h.auditJSON(["--policy", generated, "--fail-on", "high"])
        #expect(
            opened.report.active == [
                finding("PW1001", "listener/tcp/0.0.0.0:27017", "high"),
                finding("PW1006", "listener/tcp/0.0.0.0:27017", "critical")
            ], "\(opened.report.active)")
        #expect(opened.status == 1)

        // The same through the CI command of the example workflow: SARIF to a file, exit 1, a valid upload.
        let sarifPath = h.dir.file("ci.sarif")
        let ci = try h.portwarden(["audit", "--policy", generated, "--format", "sarif", "--output", sarifPath, "--fail-on", "high"])
        #expect(ci.status == 1, "\(ci.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: sarifPath))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let results = try #require((doc["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["ruleId"] as? String }.sorted() == ["PW1001", "PW1006"])
        if let tool = integrationSarifValidator() {
            let v = try run([tool, sarifPath], check: false)
            #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        }
    }

    /// `--baseline`: findings whose fingerprint is in an earlier JSON report are still reported but do not fail the run;
    /// a new one does.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func baselineOnlyNewFindingsFail() throws {
        let h = try AuditHost.standard("aubase")
        defer { h.cleanup() }
        let baseline = h.dir.file("baseline.json")
        let first = try h.portwarden(["audit", "--format", "json", "--output", baseline])
        #expect(first.status == 1, "the host has findings: \(first.stderr)")
        let known = try JSONDecoder().decode(FindingsReport.self, from: Data(contentsOf: URL(fileURLWithPath: baseline)))
        #expect(known.active.count == 2)

        let again = try h.auditJSON(["--baseline", baseline, "--fail-on", "info"])
        #expect(again.status == 0)
        #expect(again.report.active == known.active, "baselined findings stay in the report")
        #expect(Set(again.report.findings.map(\.fingerprint)) == Set(known.findings.map(\.fingerprint)), "fingerprints are stable across runs")

        // A new exposure is not in the baseline: the run fails again.
        try h.start("mongod", ["tcp:0.0.0.0:27017"])
        try h.host.exec(["nft", "add", "rule", "inet", "filter", "input", "tcp", "dport", "27017", "accept"])
        let later = try h.auditJSON(["--baseline", baseline, "--fail-on", "high"])
        #expect(later.report.active.subtracting(known.active) == [finding("PW1006", "listener/tcp/0.0.0.0:27017", "critical")])
        #expect(later.status == 1)
        // A baseline that is not a findings report is invalid input.
        let bogus = try h.write("bogus.json", "{}")
        #expect(try h.portwarden(["audit", "--baseline", bogus]).status == 2)
    }
}
