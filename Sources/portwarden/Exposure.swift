import ArgumentParser
import Evaluator
import Foundation
import HostModel
import Serialization

/// `portwarden exposure`: every listener, who can open a new connection to it, and the rule that decides it.
struct Exposure: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exposure",
        abstract: "Show every listener with its exposure (public, conditional, restricted, local-only, blocked) and the deciding rules.",
        discussion: """
            Exposure is computed per listener over (address family, input interface, source address range), following
            every nftables base chain on the way (ingress, prerouting incl. DNAT/redirect, input) and the kernel's socket lookup.
              public       accepted from (nearly) every source address on some non-loopback interface
              conditional  part of the outcome depends on state the snapshot cannot decide (rate limits, marks, …)
              restricted   accepted only from some sources or interfaces (listed)
              local-only   only host-local traffic reaches it (bind address, device binding or rules)
              blocked      no new connection reaches it
            """
    )

    @OptionGroup var source: HostSource
    @OptionGroup var candidate: CandidateRuleset
    @OptionGroup var destination: OutputFile

    @Option(name: .long, help: "Output format: text or json.") var format: ViewFormat = .text

    func run() throws {
        try exitOnFailure {
            let clock = PhaseClock()
            let snapshot = try candidate.apply(to: source.load()).0
            clock.mark("load")
            let evaluator = Evaluator(snapshot: snapshot)
            let result = evaluator.fullExposure()
            clock.mark("evaluate")
            switch format {
            case .json:
                let document = ExposureDocument(
                    host: snapshot.host, caveats: evaluator.caveats, listeners: result.listeners,
                    forwarded: result.forwarded, namedSets: evaluator.namedAddressSets())
                try writeOutput(to: destination.output, what: "the report") { (sink) throws(WriteFailure) in
                    try document.writeJSON(terminator: [0x0a], to: sink)
                }
            case .text:
                let text = ExposureReport.text(result.listeners, forwarded: result.forwarded, caveats: evaluator.caveats)
                try emit(destination.output == nil && terminalWantsColour() ? Colour.exposure(text) : text, to: destination.output)
            }
            clock.mark("render")
            clock.report()
        }
    }
}

/// Renders exposure results.
enum ExposureReport {
    static func label(_ s: ExposureSummary) -> String {
        switch s {
        case .public: "PUBLIC"
        case .conditional: "CONDITIONAL"
        case .restricted: "RESTRICTED"
        case .localOnly: "LOCAL-ONLY"
        case .blocked: "BLOCKED"
        }
    }

    static func listed(_ items: [String], max: Int = 4) -> String {
        if items.isEmpty { return "-" }
        if items.count <= max { return items.joined(separator: ", ") }
        return items.prefix(max).joined(separator: ", ") + " … (+\(items.count - max))"
    }

    /// The step that decided the listener's summary: the first accepting (or conditional, or dropping) region's last rule.
    static func evidence(_ x: ListenerExposure) -> String {
        let wanted: [PacketVerdict]
        switch x.summary {
        case .public, .restricted: wanted = [.accept]
        case .conditional: wanted = [.conditional]
        case .localOnly: wanted = [.accept, .drop, .reject]
        case .blocked: wanted = [.drop, .reject]
        }
        let candidates = x.regions.filter { wanted.contains($0.verdict) && (x.summary == .localOnly ? true : $0.interface != "lo") }
        guard let r = candidates.first(where: { !$0.path.isEmpty }) ?? candidates.first else { return "no rule on the path" }
        guard let step = r.path.last(where: { $0.handle != nil }) ?? r.path.last else {
            return x.summary == .localOnly ? "bound to \(x.listener.address)" : "no base chain on the path"
        }
        return step.text
    }

    static func text(_ exposures: [ListenerExposure], forwarded: [ForwardedPort] = [], caveats: [String]) -> String {
        var lines: [String] = []
        for c in caveats { lines.append("warning: \(c)") }
        if exposures.isEmpty {
            lines.append("no listening sockets")
            lines += forwardedText(forwarded)
            return lines.joined(separator: "\n") + "\n"
        }
        var rows: [[String]] = []
        var groups: [(ExposureSummary, [Int])] = []
        for (i, x) in exposures.enumerated() {
            if let last = groups.last, last.0 == x.summary { groups[groups.count - 1].1.append(i) } else { groups.append((x.summary, [i])) }
        }
        for x in exposures {
            let procs = x.listener.processes.map { "\(TerminalText.escape($0.name))[\($0.pid)]" }
            var detail: [String] = []
            switch x.summary {
            case .public, .restricted:
                detail.append("from \(listed(x.acceptedSources)) on \(TerminalText.escape(x.interfaceScope.text))")
            case .conditional:
                detail.append("on \(TerminalText.escape(x.interfaceScope.text)); depends on \(listed(x.reasons))")
            case .localOnly:
                detail.append("host-local only")
            case .blocked:
                detail.append("no new connection accepted")
            }
            if let limits = x.limits { detail.append("rate-limited by \(listed(limits)), which is not access control") }
            if !x.viaPorts.isEmpty { detail.append("via DNAT/redirect from port \(x.viaPorts.map(String.init).joined(separator: ","))") }
            rows.append([
                x.listener.proto.rawValue, TerminalText.escape(x.listener.endpoint),
                procs.isEmpty ? ListenerTable.emptyOwner(x.listener.owner) : listed(procs, max: 2),
                detail.joined(separator: "; ")
            ])
        }
        let headers = ["PROTO", "LISTENER", "PROCESS", "WHO CAN CONNECT"]
        var widths = headers.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < 3 { widths[i] = max(widths[i], c.count) } }
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        for (summary, idx) in groups {
            if !lines.isEmpty { lines.append("") }
            lines.append("\(label(summary)) (\(idx.count))")
            lines.append("  " + (0..<4).map { $0 < 3 ? pad(headers[$0], widths[$0]) : headers[$0] }.joined(separator: "  "))
            for i in idx {
                let r = rows[i]
                lines.append("  " + (0..<4).map { $0 < 3 ? pad(r[$0], widths[$0]) : r[$0] }.joined(separator: "  "))
                lines.append("  " + String(repeating: " ", count: widths[0] + 2) + "decided by: " + evidence(exposures[i]))
            }
        }
        lines += forwardedText(forwarded)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The PUBLISHED section: host port → DNAT target and the socket that receives it (in a container's namespace,
    /// or another machine), how far it is reached, from which sources on which interfaces, and the deciding rules.
    static func forwardedText(_ forwarded: [ForwardedPort]) -> [String] {
        guard !forwarded.isEmpty else { return [] }
        var lines = ["", "PUBLISHED through DNAT and the forward hook (\(forwarded.count))"]
        let headers = ["PROTO", "PORT", "TARGET", "RECEIVER", "REACH", "FROM"]
        let rows = forwarded.map { f -> [String] in
            var from = "\(listed(f.sources)) on \(TerminalText.escape(f.interfaceScope.text))"
            if !f.reasons.isEmpty { from += "; depends on \(listed(f.reasons))" }
            if let limits = f.limits { from += "; rate-limited by \(listed(limits))" }
            from += " (to \(listed(f.destinations, max: 3)))"
            let receiver: String
            if let ns = f.namespace {
                if let l = f.listener {
                    let procs = l.processes.map { "\(TerminalText.escape($0.name))[\($0.pid)]" }.joined(separator: ",")
                    receiver = "\(TerminalText.escape(ns)): \(l.bind ?? l.address):\(l.port)\(procs.isEmpty ? "" : " \(procs)")"
                } else {
                    receiver = "\(TerminalText.escape(ns)): nothing listens"
                }
            } else {
                receiver = "another host"
            }
            return [f.proto.rawValue, String(f.port), f.target, receiver, f.summary.rawValue, from]
        }
        var widths = headers.map(\.count)
        let last = headers.count - 1
        for r in rows { for (i, c) in r.enumerated() where i < last { widths[i] = max(widths[i], c.count) } }
        func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
        lines.append("  " + (0...last).map { $0 < last ? pad(headers[$0], widths[$0]) : headers[$0] }.joined(separator: "  "))
        for (r, f) in zip(rows, forwarded) {
            lines.append("  " + (0...last).map { $0 < last ? pad(r[$0], widths[$0]) : r[$0] }.joined(separator: "  "))
            var seen = Set<String>()
            // Regions of one path (every interface and host address of a port) give one line: the text is made once.
            var done: [[PathStep]] = []
            for region in f.regions {
                if done.contains(region.path) { continue }
                done.append(region.path)
                // The deciding steps only: translations, verdicts and the routing hops (not the jumps and returns).
                let decided = region.path.filter { s in
                    switch s.action {
                    case .accept, .drop, .reject, .policy: true
                    case .note(let words): s.hook == .routing || words.hasPrefix("dnat") || words.hasPrefix("redirect")
                    default: s.hook == .routing
                    }
                }
                let text = decided.map(\.text).joined(separator: " → ")
                if seen.insert(text).inserted { lines.append("         decided by: \(text)") }
                if seen.count >= 3 { break }
            }
        }
        return lines
    }
}

/// Phase timings for the benchmark (`PORTWARDEN_TIMINGS=1`): one line on standard error, so the cost of the
/// evaluation can be told apart from reading the snapshot and rendering the report. Silent otherwise.
final class PhaseClock {
    private let enabled = Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_TIMINGS"] == "1"
    private var last = DispatchTime.now().uptimeNanoseconds
    private var phases: [(String, UInt64)] = []

    func mark(_ name: String) {
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        phases.append((name, now - last))
        last = now
    }

    func report() {
        guard enabled else { return }
        let parts = phases.map { "\($0.0) \(String(format: "%.1f", Double($0.1) / 1e6)) ms" }
        FileHandle.standardError.write(Data(("timings: " + parts.joined(separator: ", ") + "\n").utf8))
    }
}
