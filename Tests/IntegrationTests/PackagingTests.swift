import Foundation
import Testing
import TestSupport

/// `make install` and the .deb, on the debug binary the tests already have (`SKIP_BUILD=1 PORTWARDEN=…`): building
/// a release inside the test run is too slow. Needs make, python3, strip, man, dpkg-deb and dpkg-shlibdeps; a
/// missing tool fails the test. `make deb` itself (release build) is checked by hand, as README's Install says.
@Suite(.serialized) struct PackagingTests {
    static let repoRoot = repositoryRoot

    /// Installs into a fresh DESTDIR with PREFIX=/usr and returns the stage; the caller removes it.
    func stagedInstall() throws -> URL {
        let stage = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-stage-\(UUID().uuidString)")
        try run([
            "make", "-s", "-C", Self.repoRoot.path, "install", "SKIP_BUILD=1", "PORTWARDEN=\(portwardenBinary)",
            "DESTDIR=\(stage.path)", "PREFIX=/usr"
        ])
        return stage
    }

    func text(_ stage: URL, _ path: String) throws -> String {
        try String(contentsOf: stage.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func installPutsBinaryManPagesAndCompletionsInTheirPlaces() throws {
        let stage = try stagedInstall()
        defer { try? FileManager.default.removeItem(at: stage) }
        let binary = stage.appendingPathComponent("usr/bin/portwarden").path
        let version = try run([binary, "--version"])
        #expect(version.stdout.hasPrefix("portwarden "))
        #expect(!(try run(["readelf", "-S", binary]).stdout.contains(".symtab")), "the installed binary is stripped")

        let top = try text(stage, "usr/share/man/man1/portwarden.1")
        #expect(top.contains(".SH \"EXIT STATUS\""))
        for code in ["0", "1", "2", "3", "64"] { #expect(top.contains(".TP\n\\fB\(code)\\fR")) }
        let rendered = try run(
            ["man", "-l", stage.appendingPathComponent("usr/share/man/man1/portwarden.1").path],
            environment: ["MANWIDTH": "100", "MANPAGER": "cat", "PAGER": "cat", "PATH": "/usr/bin:/bin"])
        #expect(rendered.stdout.contains("EXIT STATUS"))
        #expect(rendered.stdout.contains("invalid input"))
        for sub in ["audit", "exposure", "listeners", "trace", "diff", "reconcile", "policy-init"] {
            let page = "usr/share/man/man1/portwarden-\(sub).1"
            #expect(FileManager.default.fileExists(atPath: stage.appendingPathComponent(page).path), "\(page)")
        }
        #expect(try text(stage, "usr/share/man/man1/portwarden-audit.1").contains("\\-\\-fail\\-on"))

        #expect(try text(stage, "usr/share/bash-completion/completions/portwarden").contains("complete"))
        try run(["bash", "-n", stage.appendingPathComponent("usr/share/bash-completion/completions/portwarden").path])
        #expect(try text(stage, "usr/share/zsh/vendor-completions/_portwarden").hasPrefix("#compdef portwarden"))
        #expect(try text(stage, "usr/share/fish/vendor_completions.d/portwarden.fish").contains("complete -c 'portwarden'"))
    }

    @Test func debFromTheStagedTreeDependsOnNetfilterLibraries() throws {
        let stage = try stagedInstall()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("pwt-dist-\(UUID().uuidString)")
        defer {
            try? FileManager.default.removeItem(at: stage)
            try? FileManager.default.removeItem(at: out)
        }
        let built = try run([Self.repoRoot.appendingPathComponent("scripts/packaging/build-deb").path, stage.path, out.path])
        let deb = built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let arch = try run(["dpkg", "--print-architecture"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb.hasSuffix("_\(arch).deb"))
        #expect(URL(fileURLWithPath: deb).lastPathComponent.hasPrefix("portwarden_"))

        let info = try run(["dpkg-deb", "--info", deb]).stdout
        let depends = try #require(info.split(separator: "\n").first { $0.hasPrefix(" Depends:") })
        #expect(depends.contains("libnftnl"))
        #expect(depends.contains("libmnl"))
        #expect(depends.contains("libc6"))
        #expect(info.contains(" Package: portwarden"))

        let contents = try run(["dpkg-deb", "--contents", deb]).stdout
        for path in [
            "./usr/bin/portwarden", "./usr/share/man/man1/portwarden.1", "./usr/share/bash-completion/completions/portwarden",
            "./usr/share/zsh/vendor-completions/_portwarden", "./usr/share/fish/vendor_completions.d/portwarden.fish"
        ] {
            #expect(contents.contains(path), "\(path)")
        }
        #expect(contents.contains("root/root"))
    }
}
