import Foundation
import HostModel
import Testing
import TestSupport
@testable import Policy

/// The repository root, found from this file's path (Tests/PolicyTests/…).
let repoRoot = repositoryRoot

/// Writes `files` into a fresh temporary directory and returns it.
func tempDir(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pw-policy-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, text) in files { try Data(text.utf8).write(to: dir.appendingPathComponent(name)) }
    return dir
}

func loadError(_ text: String, file: String = "p.yaml") -> PolicyError? {
    do {
        _ = try PolicyLoader.parse(text, file: file)
        return nil
    } catch {
        return error
    }
}

@Suite struct PolicyLoaderTests {
    @Test func embeddedDefaultEqualsTheFile() throws {
        let file = try String(contentsOf: repoRoot.appendingPathComponent("policies/default.yaml"), encoding: .utf8)
        #expect(DefaultPolicy.text == file, "Sources/Policy/DefaultPolicy.swift is out of date: copy policies/default.yaml into it")
        let p = try PolicyLoader.builtInDefault()
        #expect(p.listeners.isEmpty)
        #expect(p.checks["undeclared-listener"]?.disabled == true)
    }

    @Test func everyShippedPolicyLoads() throws {
        let dir = repoRoot.appendingPathComponent("policies")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 3)
        for f in files {
            let p = try PolicyLoader.load(path: dir.appendingPathComponent(f).path, hostname: nil)
            #expect(p.source.hasSuffix(f))
        }
    }

    @Test func fullEntryIsParsed() throws {
        let p = try PolicyLoader.parse(
            """
            version: 1
            listeners:
              - name: db
                proto: tcp
                port: 5432
                bind: [10.0.0.5, "::1"]
                exposure: {sources: [10.0.0.0/8], interfaces: [eth1]}
                owner: {process: postgres, unit: postgresql.service, user: 999}
                required: true
              - {proto: udp, port: 6000-6063, bind: loopback}
            forbidden: [{port: 23, reason: telnet}]
            checks: {PW1006: {severity: critical}, stale-opening: {disabled: true}}
            suppressions: [{rule: PW1001, port: 8080, reason: migration, expires: 2030-01-31}]
            """, file: "p.yaml")
        #expect(p.listeners.count == 2)
        let db = p.listeners[0]
        #expect(db.bind == .addresses(["10.0.0.5", "::1"]))
        #expect(db.exposure == .restricted(interfaces: ["eth1"], sources: [CIDR("10.0.0.0/8")].compactMap { $0 }))
        #expect(db.owner == OwnerRule(process: "postgres", unit: "postgresql.service", uid: 999))
        #expect(db.required)
        #expect(db.location == SourceLocation(file: "p.yaml", line: 3, column: 5))
        #expect(p.listeners[1].ports == PortRange(first: 6000, last: 6063))
        #expect(p.listeners[1].exposure == .localOnly)
        #expect(p.forbidden.first?.proto == nil)
        #expect(p.checks["PW1006"]?.severity == .critical)
        #expect(p.checks["stale-opening"]?.disabled == true)
        #expect(p.suppressions.first?.expires == PolicyDate(year: 2030, month: 1, day: 31))
    }

    @Test(arguments: [
        ("version: 1\nlistenerz: []\n", "p.yaml:2:1: expected one of the keys"),
        ("version: 2\n", "p.yaml:1:10: expected version 1"),
        ("listeners: []\n", "p.yaml:1:1: expected a `version: 1` key"),
        ("version: 1\nlisteners:\n  - proto: tcp\n    port: 22\n    exposure: {sources: [10.0.0.0/33]}\n", "p.yaml:5:26: expected a CIDR prefix"),
        ("version: 1\nlisteners:\n  - proto: sctp\n    port: 22\n", "p.yaml:3:12: expected proto: tcp or udp"),
        ("version: 1\nlisteners:\n  - proto: tcp\n    port: 70000\n", "p.yaml:4:11: expected a port"),
        ("version: 1\nlisteners: {proto: tcp}\n", "p.yaml:2:12: expected listeners (a list): a list, found a mapping"),
        ("version: 1\nlisteners:\n  - {proto: tcp, port: 22, required: maybe}\n", "p.yaml:3:38: expected required (true or false)"),
        ("version: 1\nlisteners:\n  - {proto: tcp, port: 22, bind: loopback, exposure: public}\n", "p.yaml:3:54: expected exposure: local-only"),
        ("version: 1\nlisteners: [{proto: tcp, port: 22}, {proto: tcp, port: 20-30}]\n", "p.yaml:2:37: expected one declaration per port"),
        ("version: 1\nlisteners: [{proto: tcp, port: 22}]\nforbidden: [{port: 22}]\n", "p.yaml:3:13: expected no contradiction"),
        ("version: 1\nsuppressions: [{rule: PW1001}]\n", "p.yaml:2:16: expected a `reason` key"),
        ("version: 1\nsuppressions: [{rule: PW1001, reason: x, expires: tomorrow}]\n", "p.yaml:2:51: expected expires: a date"),
        ("version: 1\nversion: 1\n", "p.yaml:2:1: expected each key once"),
        ("version: 1\nlisteners: [\n", "p.yaml:"),
        ("version: 1\nchecks: {PW1001: {severity: urgent}}\n", "p.yaml:2:29: expected severity: one of"),
        ("version: 1\nlisteners: [{proto: tcp, port: 22, owner: {user: alice}}]\n", "p.yaml:2:50: expected user: a numeric uid")
    ])
    func invalidPoliciesPointAtTheProblem(_ text: String, _ expected: String) {
        let e = loadError(text)
        #expect(e != nil)
        #expect(e?.description.hasPrefix(expected) == true, "got: \(e?.description ?? "no error")")
    }

    @Test func includesResolveRelativeToTheIncludingFileAndHonourHostSelectors() throws {
        let dir = try tempDir([
            "main.yaml": "version: 1\ninclude:\n  - common.yaml\n  - {file: roles/db.yaml, hosts: [\"db-*\"]}\n  - roles/web.yaml\n",
            "common.yaml": "version: 1\nlisteners: [{proto: tcp, port: 22}]\n"
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("roles"), withIntermediateDirectories: true)
        try Data("version: 1\nlisteners: [{proto: tcp, port: 5432}]\n".utf8).write(to: dir.appendingPathComponent("roles/db.yaml"))
        try Data("version: 1\nhosts: [\"web-*\"]\nlisteners: [{proto: tcp, port: 443}]\n".utf8).write(
            to: dir.appendingPathComponent("roles/web.yaml"))
        let main = dir.appendingPathComponent("main.yaml").path
        let db = try PolicyLoader.load(path: main, hostname: "db-01")
        #expect(db.listeners.map(\.ports.first).sorted() == [22, 5432])
        let web = try PolicyLoader.load(path: main, hostname: "web-01")
        #expect(web.listeners.map(\.ports.first).sorted() == [22, 443])
        #expect(web.listeners.first { $0.ports.first == 443 }?.location.file.hasSuffix("roles/web.yaml") == true)
    }

    @Test func includeCycleIsAnError() throws {
        let dir = try tempDir(["a.yaml": "version: 1\ninclude: [b.yaml]\n", "b.yaml": "version: 1\ninclude: [a.yaml]\n"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: PolicyError.self) { try PolicyLoader.load(path: dir.appendingPathComponent("a.yaml").path, hostname: nil) }
    }

    @Test func mainFileHostSelectorMismatchIsAWarningNotAnError() throws {
        // A valid file named on the command line is applied; the mismatch is said (a caveat in the report).
        let p = try PolicyLoader.parse("version: 1\nhosts: [\"db-*\"]\nlisteners: [{proto: tcp, port: 22}]\n", file: "p.yaml", hostname: "web-01")
        #expect(p.listeners.count == 1)
        #expect(
            p.warnings == [
                "p.yaml:2:8: the policy's hosts: (db-*) does not match this host 'web-01'; applied anyway because it was named with --policy"
            ])
        let matching = try PolicyLoader.parse("version: 1\nhosts: [\"web-*\"]\n", file: "p.yaml", hostname: "web-01")
        #expect(matching.warnings.isEmpty)
    }

    @Test func suppressionExpiry() throws {
        let s = Suppression(rule: "PW1001", reason: "x", expires: PolicyDate("2026-03-01"), location: SourceLocation(file: "p", line: 1, column: 1))
        #expect(!s.isExpired(on: PolicyDate(year: 2026, month: 2, day: 28)))
        #expect(s.isExpired(on: PolicyDate(year: 2026, month: 3, day: 1)))
    }
}

/// Hostile input must end in a PolicyError (exit 2) quickly, never a crash or a hang.
@Suite struct HostilePolicyTests {
    @Test func deepFlowNesting() {
        let text = "version: 1\nlisteners: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n"
        #expect(loadError(text)?.description.contains("levels of nesting") == true)
    }

    @Test func deepBlockNesting() {
        var text = "version: 1\nlisteners:\n"
        text += String(repeating: "- ", count: 5_000) + "x\n"
        #expect(loadError(text) != nil)
    }

    @Test func aliasBomb() {
        var text = "version: 1\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<20 {
            text += "a\(i): &a\(i) [*a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1), *a\(i - 1)]\n"
        }
        text += "listeners: *a19\n"
        let start = ContinuousClock.now
        #expect(loadError(text) != nil)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aliasBombInsideAllowedKey() {
        var text = "version: 1\nlisteners:\n  - &l0 {proto: tcp, port: 1}\n"
        text += "suppressions: &s [{rule: PW1001, reason: &r [x, x, x]}]\n"
        #expect(loadError(text) != nil)
    }

    @Test func invalidUTF8() throws {
        let dir = try tempDir([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.yaml")
        try Data([0x76, 0x65, 0x72, 0x3a, 0x20, 0xff, 0xfe, 0x0a]).write(to: path)
        #expect(throws: PolicyError.self) { try PolicyLoader.load(path: path.path, hostname: nil) }
    }

    @Test func hugeFile() throws {
        let dir = try tempDir([:])
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("huge.yaml")
        try Data(("version: 1\n" + String(repeating: "# padding\n", count: 200_000)).utf8).write(to: path)
        let start = ContinuousClock.now
        #expect(throws: PolicyError.self) { try PolicyLoader.load(path: path.path, hostname: nil) }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func duplicateKeysInEntries() {
        #expect(loadError("version: 1\nlisteners:\n  - {proto: tcp, port: 22, port: 23}\n")?.description.contains("each key once") == true)
    }

    @Test func emptyAndNonMappingDocuments() {
        #expect(loadError("") != nil)
        #expect(loadError("- 1\n- 2\n") != nil)
        #expect(loadError("version: 1\nlisteners: [~]\n") != nil)
        #expect(loadError("\u{0}\u{1}garbage: [") != nil)
    }
}
