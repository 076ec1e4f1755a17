import Foundation
import Testing

// The differential harness: `trace` must agree with the kernel.
//
// For each case (generated from a seed by DiffGenerator, hand-written in DiffKnownCases, or written by ufw in
// DiffUfw), DiffLab loads the ruleset into a host namespace linked to two peer namespaces (pwa0 192.0.2.0/24 +
// 2001:db8:a::/64, pwb0 198.51.100.0/24 + 2001:db8:b::/64, extra peer sources in 203.0.113.0/24 and
// 2001:db8:c::/64, 2001:db8:d::/64), opens the case's sockets with a Python holder, takes a snapshot with
// `portwarden collect` inside the host namespace, sends real TCP SYNs and UDP datagrams from both peers and from the
// host itself, and records which socket each one reached. `portwarden trace` then answers the same probes from the
// snapshot; any difference in `delivered` or in the receiving socket fails the test with the case, the probe, both
// answers and the ruleset. Needs root (NetnsGate); `make differential SEEDS=…` runs any number of seeds.

/// Seeds for the generated cases: `PORTWARDEN_DIFF_SEEDS` is a count (`50` → seeds 1…50), a range (`100-199`,
/// `42-42` for one seed) or a list (`3,17,42`). Default: 50 seeds.
enum DiffSeeds {
    static func fromEnvironment() -> [UInt64] {
        parse(Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_DIFF_SEEDS"] ?? "50")
    }

    static func parse(_ text: String) -> [UInt64] {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.contains(",") { return t.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) } }
        if let dash = t.firstIndex(of: "-"), let a = UInt64(t[..<dash]), let b = UInt64(t[t.index(after: dash)...]), a <= b {
            return Array(a...b)
        }
        if let n = UInt64(t), n > 0 { return Array(1...n) }
        return Array(1...50)
    }
}

/// Runs cases through the kernel and through `portwarden collect` + `trace`, and says where they disagree.
struct DiffRunner {
    /// `PORTWARDEN_DIFF_KERNEL_ONLY=1`: run the kernel side only (harness development, no collect/trace).
    static let kernelOnly = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_DIFF_KERNEL_ONLY"] == "1"
    /// `PORTWARDEN_DIFF_VERBOSE=1`: print every case and every probe's outcome.
    static let verbose = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_DIFF_VERBOSE"] == "1"

    let lab: DiffLab
    var probes = 0, agreed = 0, delivered = 0, conditionalByDesign = 0
    var failedCases: [String] = []
    /// `collect` or `trace` itself failed (missing binary, crash): after a few, stop instead of repeating it per seed.
    var toolFailures = 0

    init(lab: DiffLab) { self.lab = lab }

    /// One case: every problem is recorded as a test issue naming the case, the probe and both answers.
    mutating func run(_ c: DiffCase) {
        let snapshot = lab.workDir.appendingPathComponent("snapshot.json")
        try? FileManager.default.removeItem(at: snapshot)
        let kernel: [Int: KernelOutcome]
        do {
            kernel = try lab.kernelOutcomes(c) { if !Self.kernelOnly { try lab.collect(to: snapshot) } }
        } catch {
            if case DiffError.portwarden = error { toolFailures += 1 }
            fail(c, "\(error)")
            return
        }
        if Self.verbose {
            print(Self.describe(c))
            if let loaded = lab.loadedRuleset { print(loaded) }
            for p in c.probes {
                let k = kernel[p.pid]
                print("  \(p.label): \(k?.receiver?.description ?? "not delivered") (prober: \(k?.proberNote ?? "?"))")
            }
        }
        var problems: [String] = []
        // Self-check of the harness: for TCP, the prober's connect() and the holder's log must agree.
        for p in c.probes where p.proto == "tcp" {
            guard let k = kernel[p.pid] else { continue }
            if k.delivered != (k.proberNote == "connected" || k.halfOpen) {
                problems.append("  harness inconsistency for \(p.label): holder saw \(k.receiver?.description ?? "nothing"), prober \(k.proberNote)")
            }
        }
        // Hand-written cases also state what the kernel must do (a check of the harness and of the docs).
        let byID = Dictionary(c.listeners.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for p in c.probes {
            guard let expectation = c.expected[p.pid], let k = kernel[p.pid] else { continue }
            let want = expectation.flatMap { byID[$0] }.map(DiffReceiver.init)
            if k.receiver != want {
                problems.append(
                    "  kernel did not do what the case expects for \(p.label): expected \(want?.description ?? "not delivered"), got \(k.receiver?.description ?? "not delivered")"
                )
            }
        }
        delivered += kernel.values.filter(\.delivered).count
        probes += c.probes.count
        if Self.kernelOnly {
            agreed += c.probes.count
        } else {
            do {
                let traced = try DiffLab.trace(snapshot: snapshot, probes: c.probes)
                for p in c.probes {
                    guard let k = kernel[p.pid], let t = traced[p.pid] else { continue }
                    if Self.verbose { print("  \(p.label): trace \(t.verdict)\(t.delivered ? " → \(t.receiver?.description ?? "?")" : "")") }
                    if t.verdict == "conditional", c.conditionalAllowed[p.pid] != nil { conditionalByDesign += 1; continue }
                    let same = t.verdict != "conditional" && t.delivered == k.delivered && (!k.delivered || t.receiver == k.receiver)
                    if same { agreed += 1; continue }
                    problems.append(
                        """
                          probe \(p.label)
                            kernel: \(k.delivered ? "delivered to \(k.receiver?.description ?? "?")" : "not delivered") (prober: \(k.proberNote))
                            trace:  verdict \(t.verdict), \(t.delivered ? "delivered to \(t.receiver?.description ?? "nothing")" : "not delivered")
                                    \(t.line)
                        """)
                }
            } catch {
                if case DiffError.portwarden = error { toolFailures += 1 }
                problems.append("  \(error)")
            }
        }
        if !problems.isEmpty { fail(c, "\(problems.count) problem(s) on \(c.probes.count) probes\n" + problems.joined(separator: "\n")) }
    }

    private mutating func fail(_ c: DiffCase, _ message: String) {
        failedCases.append(c.name ?? String(c.seed))
        var text = "\(c.title): \(message)\n\(Self.describe(c))"
        if let loaded = lab.loadedRuleset { text += "\n  as loaded:\n\(loaded)" }
        Issue.record(Comment(rawValue: text))
    }

    static func describe(_ c: DiffCase) -> String {
        let rerun =
            c.name == nil
            ? "layout \(c.layout.rawValue); rerun: PORTWARDEN_DIFF_SEEDS=\(c.seed)-\(c.seed) swift test --filter IntegrationTests.DifferentialTests"
            : "hand-written"
        return """
              \(c.title), \(rerun)
              listeners: \(c.listeners.map { "#\($0.id) \($0.label)" }.joined(separator: "; "))
              ruleset:
            \(c.ruleset.isEmpty ? "    (empty)" : c.ruleset)
            """ + (c.iptables.map { "\n  iptables-nft-restore:\n\($0)" } ?? "") + (c.ip6tables.map { "\n  ip6tables-nft-restore:\n\($0)" } ?? "")
    }

    var summary: String {
        "\(probes) probes, \(delivered) delivered by the kernel, \(agreed) agreed"
            + (conditionalByDesign > 0 ? ", \(conditionalByDesign) conditional by design" : "")
            + (Self.kernelOnly ? " (kernel only, trace not run)" : "")
            + (failedCases.isEmpty ? "" : "; failed: \(failedCases.joined(separator: ","))")
    }
}

@Suite(.serialized)
struct DifferentialTests {
    /// The proof against the kernel: for each seed, a generated ruleset and socket set are built in namespaces,
    /// real packets are sent, and `portwarden trace` on a snapshot `portwarden collect` took must say the same
    /// thing about every probe: delivered or not, and to which socket.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func generatedRulesetsAgreeWithKernel() throws {
        let seeds = DiffSeeds.fromEnvironment()
        let lab = try DiffLab()
        defer { lab.cleanup() }
        var runner = DiffRunner(lab: lab)
        var layouts: [DiffLayout: Int] = [:]
        let started = Date()
        for seed in seeds {
            let c = DiffGenerator.make(seed: seed)
            layouts[c.layout, default: 0] += 1
            runner.run(c)
            if runner.toolFailures >= 3 {
                Issue.record("portwarden collect/trace failed 3 times (\(portwardenBinary)); stopping after seed \(seed)")
                break
            }
        }
        let layoutText = layouts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
        print("differential: \(seeds.count) seeds (\(layoutText)), \(runner.summary), \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// Hand-written cases whose kernel behaviour is documented (nftables-netlink.md §3): each checks the harness
    /// against a known answer, and `trace` against the kernel.
    @Test(.enabled(if: NetnsGate.enabled, NetnsGate.reason))
    func knownCasesAgreeWithKernel() throws {
        let lab = try DiffLab()
        defer { lab.cleanup() }
        var runner = DiffRunner(lab: lab)
        for c in DiffKnownCases.all { runner.run(c) }
        print("differential known cases: \(DiffKnownCases.all.count) cases, \(runner.summary)")
    }
}
