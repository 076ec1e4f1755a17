import Foundation
import HostModel
import Serialization
import Testing

/// `collect` without privilege, and the CLI's exit codes for bad snapshot files.
@Suite(.serialized) struct CollectPrivilegeTests {
    /// A copy of the binary that uid 65534 can execute (the build directory may not be reachable for it).
    static func publicBinary(in dir: TempDir) throws -> String {
        let target = dir.file("portwarden")
        try FileManager.default.copyItem(atPath: portwardenBinary, toPath: target)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: target)
        return target
    }

    static let unprivileged = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func withoutNetAdminCollectFailsWithExit3() throws {
        let dir = try TempDir("priv")
        let ns = try listenerNamespace("priv", dir: dir)
        defer { ns.cleanup() }
        let binary = try Self.publicBinary(in: dir)

        let result = try ns.exec(Self.unprivileged + [binary, "collect", "--netns", "host"], check: false)
        #expect(result.status == 3, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("CAP_NET_ADMIN"))
        #expect(result.stderr.contains("--allow-partial"))
        #expect(result.stdout.isEmpty, "no partial snapshot on stdout")
    }

    /// A namespace the collector cannot join (no CAP_SYS_ADMIN) is named in a warning and kept in the snapshot as
    /// not entered: never silently missing, never shown as empty.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func unenterableNamespaceIsACaveat() throws {
        let dir = try TempDir("nsin")
        let ns = try listenerNamespace("nsin", dir: dir)
        defer { ns.cleanup() }
        let other = try TestNamespace("nsot")
        defer { other.cleanup() }
        let binary = try Self.publicBinary(in: dir)
        let result = try ns.exec(Self.unprivileged + [binary, "collect", "--allow-partial", "--netns", other.name], check: false)
        try #require(result.status == 0, "stderr: \(result.stderr)")
        let snapshot = try SnapshotCodec.decode(result.stdoutData)
        let n = try #require(snapshot.namespaces.first { $0.id.name == other.name })
        #expect(!n.entered && n.listeners.isEmpty)
        #expect(n.warnings.contains { $0.contains("cannot") && $0.contains(other.name) })
        #expect(result.stderr.contains(other.name))
        // `--snapshot -` reads the snapshot from standard input; the namespace not read is named, not left out.
        let text = try run([binary, "listeners", "--snapshot", "-"], input: result.stdoutData, check: false)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("not read"))
    }

    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func withoutNetAdminAllowPartialRecordsUnreadable() throws {
        let dir = try TempDir("part")
        let ns = try listenerNamespace("part", dir: dir)
        defer { ns.cleanup() }
        let binary = try Self.publicBinary(in: dir)

        let result = try ns.exec(Self.unprivileged + [binary, "collect", "--netns", "host", "--allow-partial"], check: false)
        try #require(result.status == 0, "stderr: \(result.stderr)")
        let snapshot = try SnapshotCodec.decode(result.stdoutData)
        #expect(snapshot.firewall.status == .unreadable)
        #expect(snapshot.firewall.error?.contains("CAP_NET_ADMIN") == true)
        #expect(snapshot.firewall.tables.isEmpty)
        #expect(!snapshot.privileges.netAdmin)
        #expect(!snapshot.privileges.procFds, "uid 65534 cannot read root's descriptors")
        #expect(snapshot.warnings.contains { $0.contains("CAP_SYS_PTRACE") })
        #expect(snapshot.warnings.contains { $0.contains("CAP_NET_ADMIN") })
        #expect(result.stderr.contains("warning: "))

        // sock_diag needs no privilege: every socket is still there, with its kernel facts.
        let ss = try ns.exec(["ss", "-tulneH"])
        #expect(snapshot.listeners.count == ss.stdout.split(separator: "\n").count)
        // Sockets of root's holder: owner unknown (not "none"); the child's own sockets (uid 65534) are readable.
        let rootOwned = snapshot.listeners.filter { $0.uid == 0 && $0.port != 8080 }
        #expect(!rootOwned.isEmpty && rootOwned.allSatisfy { $0.owner == .unknown && $0.processes.isEmpty })
        let childOwned = snapshot.listeners.filter { $0.uid == 65534 }
        #expect(childOwned.count == 2 && childOwned.allSatisfy { $0.owner == .known && $0.processes.map(\.name) == ["pw-child"] })
        // The shared socket is found through the child, which is all an unprivileged reader can see.
        let shared = try #require(snapshot.listeners.first { $0.port == 8080 })
        #expect(shared.processes.map(\.name) == ["pw-child"])

        // The listeners view of that snapshot marks unknown owners with "?".
        let file = dir.file("partial.json")
        try result.stdoutData.write(to: URL(fileURLWithPath: file))
        let text = try run([binary, "listeners", "--snapshot", file])
        #expect(text.stdout.split(separator: "\n").contains { $0.contains("127.0.0.1:631") && $0.contains(" ? ") })
        #expect(text.stderr.contains("CAP_SYS_PTRACE"))
    }
}

/// `listeners` reads no firewall, so like `ss` it works without CAP_NET_ADMIN.
@Suite struct ListenersUnprivilegedTests {
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func liveListenersWithoutPrivilege() throws {
        let dir = try TempDir("lsu")
        let ns = try listenerNamespace("lsu", dir: dir)
        defer { ns.cleanup() }
        let binary = try CollectPrivilegeTests.publicBinary(in: dir)
        let result = try ns.exec(CollectPrivilegeTests.unprivileged + [binary, "listeners", "--netns", "host"], check: false)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let rows = result.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.count == 15)
        #expect(rows.first { $0[1] == "127.0.0.1:631" }?[4] == "?", "root's socket: owner unknown to uid 65534")
        #expect(rows.first { $0[1] == "0.0.0.0:5000" }?[4].hasPrefix("pw-child[") == true, "its own uid's socket is named")
        #expect(result.stderr.contains("CAP_SYS_PTRACE"))
        #expect(!result.stderr.contains("CAP_NET_ADMIN"))
    }
}

/// Exit codes of `listeners --snapshot` on files that are not valid snapshots (no privilege needed).
@Suite struct ListenerSnapshotErrorTests {
    static let valid = """
        {"schema":"portwarden-snapshot/1",
         "host":{"hostname":"h","kernel":"6.1","collectedAt":"2026-11-25T15:40:00Z","toolVersion":"0.1.0"},
         "listeners":[{"proto":"tcp","family":"ipv4","address":"0.0.0.0","port":22,"v6only":false,"deviceIndex":0,"uid":0,
                       "inode":1,"cookie":1,"processes":[{"pid":1,"name":"sshd","cmdline":[]}],"owner":"known"},
                      {"proto":"udp","family":"ipv6","address":"::","port":53,"v6only":false,"deviceIndex":0,"uid":101,
                       "inode":2,"cookie":2,"processes":[],"owner":"none"}],
         "interfaces":[],"routes":{"routes":[],"rules":[]},
         "sysctls":{"ipLocalReservedPorts":[],"routeLocalnet":{}},
         "firewall":{"status":"absent","tables":[],"legacyTables":{"ipv4":[],"ipv6":[],"arp":[]}},
         "privileges":{"netAdmin":true,"procFds":true},
         "warnings":["a warning for the footer"]}
        """

    func runOn(_ text: String, _ extra: [String] = []) throws -> CommandResult {
        let dir = try TempDir("snaperr")
        let file = dir.file("s.json")
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return try run([portwardenBinary, "listeners", "--snapshot", file] + extra, check: false)
    }

    @Test func validSnapshotPrintsTableAndWarningFooter() throws {
        let r = try runOn(Self.valid)
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.count == 3)
        #expect(rows.dropFirst().first == ["tcp", "0.0.0.0:22", "wildcard", "0", "sshd[1]", "-"])
        #expect(rows.last == ["udp", "[::]:53", "wildcard/dual-stack", "101", "(kernel)", "-"])
        #expect(r.stderr == "warning: a warning for the footer\n")
    }

    @Test func wrongSchemaExits2() throws {
        let r = try runOn(Self.valid.replacingOccurrences(of: "portwarden-snapshot/1", with: "portwarden-snapshot/99"))
        #expect(r.status == 2)
        #expect(r.stderr.contains("'schema'") && r.stderr.contains("portwarden-snapshot/2"))
    }

    @Test func portAsStringExits2NamingTheField() throws {
        let r = try runOn(Self.valid.replacingOccurrences(of: "\"port\":53", with: "\"port\":\"53\""))
        #expect(r.status == 2)
        #expect(r.stderr.contains("listeners[1].port"), "\(r.stderr)")
    }

    @Test func truncatedExits2() throws {
        let r = try runOn(String(Self.valid.prefix(200)), ["--format", "json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("truncated"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func missingFileExits2() throws {
        let r = try run([portwardenBinary, "listeners", "--snapshot", "/nonexistent/pw-snapshot.json"], check: false)
        #expect(r.status == 2)
        #expect(r.stderr.contains("/nonexistent/pw-snapshot.json"))
    }
}
