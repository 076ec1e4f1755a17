import Foundation
import Testing
import Yams

/// The CI and monitoring examples under examples/ parse, and say what the documentation says they do. (That their
/// portwarden commands use only real options is checked in IntegrationTests' documentedCommandsMatchTheCLI.)
@Suite struct ExampleFilesTests {
    func text(_ path: String) throws -> String {
        try String(contentsOf: repoRoot.appendingPathComponent(path), encoding: .utf8)
    }

    func yaml(_ path: String) throws -> [String: Any] {
        try #require(try Yams.load(yaml: try text(path)) as? [String: Any], "\(path) is not a YAML mapping")
    }

    @Test func gitLabJobUploadsTheCodeQualityReportItWrites() throws {
        let doc = try yaml("examples/gitlab-ci/portwarden.gitlab-ci.yml")
        let job = try #require(doc["portwarden-audit"] as? [String: Any])
        let setup = try #require(job["before_script"] as? [String]).joined(separator: "\n")
        #expect(setup.contains("libnftnl-dev") && setup.contains("libmnl-dev"), "installs the build dependencies")
        let script = try #require(job["script"] as? [String]).joined(separator: "\n")
        #expect(script.contains("audit") && script.contains("--format codequality"))
        let output = try #require(script.firstMatch(of: /--output (\S+)/)?.1)
        let artifacts = try #require(job["artifacts"] as? [String: Any])
        #expect(artifacts["when"] as? String == "always", "the report is kept when findings fail the job")
        #expect((artifacts["reports"] as? [String: Any])?["codequality"] as? String == String(output))
    }

    @Test func gitHubWorkflowsParseAndInstallTheBuildDependencies() throws {
        let audit = try text("examples/github-actions/portwarden-audit.yml")
        #expect(try yaml("examples/github-actions/portwarden-audit.yml")["jobs"] != nil)
        #expect(
            audit.components(separatedBy: "libnftnl-dev libmnl-dev").count - 1 == audit.components(separatedBy: "swift build").count - 1,
            "every job that builds installs libnftnl-dev and libmnl-dev")
        #expect(try yaml("examples/github-actions/portwarden-diff.yml")["jobs"] != nil)
    }

    /// `key=value` lines of a unit file, by key (repeated keys keep every value).
    func unit(_ path: String) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in try text(path).split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq]), default: []].append(String(line[line.index(after: eq)...]))
        }
        return out
    }

    @Test func systemdServiceWritesTheMetricsAndToleratesFindings() throws {
        let service = try unit("examples/systemd/portwarden-audit.service")
        #expect(service["Type"] == ["oneshot"])
        #expect(service["User"] == ["root"])
        let exec = try #require(service["ExecStart"]?.first)
        #expect(exec.contains(" audit ") && exec.contains("--format prometheus"))
        #expect(exec.contains("--output /var/lib/prometheus/node-exporter/portwarden.prom"))
        #expect(service["SuccessExitStatus"]?.first?.split(separator: " ").contains("1") == true, "findings (exit 1) do not fail the unit")
        for hardening in ["NoNewPrivileges", "PrivateTmp", "ProtectHome"] { #expect(service[hardening] == ["yes"], "\(hardening)") }
        if service["ProtectSystem"] == ["strict"] {
            #expect(service["ReadWritePaths"] == ["/var/lib/prometheus/node-exporter"], "the metrics directory stays writable")
        }
        for hiding in ["PrivateNetwork", "ProtectProc", "RestrictNamespaces"] { #expect(service[hiding] == nil, "\(hiding) would hide the host") }
        let timer = try unit("examples/systemd/portwarden-audit.timer")
        #expect(timer["OnUnitActiveSec"] != nil && timer["WantedBy"] == ["timers.target"])
    }

    /// `systemd-analyze verify` on copies whose ExecStart names an existing file, when systemd-analyze is installed.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "systemd-analyze is not installed"))
    func systemdUnitsVerify() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let service = try text("examples/systemd/portwarden-audit.service").replacingOccurrences(of: "/usr/bin/portwarden", with: "/bin/true")
        try Data(service.utf8).write(to: dir.appendingPathComponent("portwarden-audit.service"))
        try Data(try text("examples/systemd/portwarden-audit.timer").utf8).write(to: dir.appendingPathComponent("portwarden-audit.timer"))
        let (status, out) = try run([
            "systemd-analyze", "verify", "--man=no", dir.appendingPathComponent("portwarden-audit.service").path,
            dir.appendingPathComponent("portwarden-audit.timer").path
        ])
        #expect(status == 0, "\(out)")
    }
}
