import Evaluator
import Foundation
import HostModel

/// The report of a reconciliation, as text and as JSON (`portwarden-reconcile/1`).
public struct ReconcileReport: Sendable {
    public var result: Reconciliation
    /// The scan file as given, the scanner's source address, and the evaluator's caveats (printed as warnings).
    public var scanFile: String
    public var from: String
    public var caveats: [String]

    public init(result: Reconciliation, scanFile: String, from: String, caveats: [String]) {
        self.result = result
        self.scanFile = scanFile
        self.from = from
        self.caveats = caveats
    }

    /// The groups of one protocol's report, in the order they are printed.
    static let groups: [(PortComparison.Kind, String)] = [
        (.openInScan, "open in the scan, predicted blocked (a model gap or a middlebox)"),
        (.openPredicted, "predicted open, not open in the scan"),
        (.closedOrFiltered, "closed in one, filtered in the other"),
        (.either, "either (conditional: listed, not compared)")
    ]

    /// The last line of the text report: counts of compared, agreeing, mismatched and undecided ports.
    public var summary: String {
        let r = result
        let agree = r.comparisons.count - r.mismatches.count - r.undecided.count
        return "Summary: \(r.comparisons.count) port(s) compared, \(agree) agree, \(r.mismatches.count) mismatch(es), "
            + "\(r.undecided.count) either."
    }

    /// Mismatches per protocol in groups (open in the scan; predicted open; closed against filtered; either).
    public func text() -> String {
        var lines = [
            "portwarden reconcile: \(scanFile), scanner \(from) on "
                + result.interfaces.map { "\($0.iif) (to \($0.address))" }.joined(separator: ", ")
        ]
        for host in result.hostsNotUp {
            let what = TerminalText.escape("\(host.addresses.joined(separator: ", ")) (nmap: host \(host.status)")
            lines.append("not compared: \(what), no port scanned)")
        }
        for proto in L4Proto.allCases {
            let ports = result.comparisons.filter { $0.proto == proto }
            guard !ports.isEmpty else { continue }
            let bad = ports.filter { $0.kind != .agree && $0.kind != .either }.count
            lines.append("\(proto.rawValue): \(ports.count) port(s) scanned, \(bad) mismatch(es)")
            for (kind, title) in Self.groups {
                let members = ports.filter { $0.kind == kind }
                guard !members.isEmpty else { continue }
                lines.append("  \(title):")
                lines += members.map { "    " + Self.line($0) }
            }
        }
        lines.append(summary)
        lines += caveats.map { "warning: \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }

    static func line(_ c: PortComparison) -> String {
        let host = c.address.contains(":") ? "[\(c.address)]" : c.address
        let reason = c.scanReason.map { " (\(TerminalText.escape($0)))" } ?? ""  // the report's text, whoever wrote it
        var why: String
        switch c.predicted {
        case .either(let because): why = because
        case .observed: why = c.trace.path.last?.text ?? "no base chain on the way"
        }
        if c.trace.verdict == .accept, c.trace.listener == nil, !c.trace.forwarded { why += "; no listener" }
        return "\(host):\(c.port)  scan \(c.scan.rawValue)\(reason), predicted \(c.predicted.label): \(why)"
    }

    /// The same as one JSON object (`portwarden-reconcile/1`) and a newline.
    public func json() throws -> Data {
        let entries = { (cs: [PortComparison]) in cs.map(Entry.init) }
        let doc = Document(
            scan: scanFile, from: from,
            interfaces: result.interfaces.map { Arrival(address: $0.address, iif: $0.iif) },
            summary: Summary(result), mismatches: entries(result.mismatches), either: entries(result.undecided),
            notScanned: result.hostsNotUp.map { NotScanned(addresses: $0.addresses, status: $0.status) },
            caveats: caveats)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(doc) + Data("\n".utf8)
    }

    struct Document: Encodable {
        var schema = "portwarden-reconcile/1"
        var scan: String
        var from: String
        var interfaces: [Arrival]
        var summary: Summary
        var mismatches: [Entry]
        var either: [Entry]
        var notScanned: [NotScanned]
        var caveats: [String]
    }

    struct Arrival: Encodable { var address: String, iif: String }
    struct NotScanned: Encodable { var addresses: [String], status: String }

    struct Summary: Encodable {
        var compared, agree, mismatches, either: Int
        init(_ r: Reconciliation) {
            compared = r.comparisons.count
            mismatches = r.mismatches.count
            either = r.undecided.count
            agree = compared - mismatches - either
        }
    }

    struct Entry: Encodable {
        var proto: String, address: String, port: UInt16, iif: String
        var scan: String, scanReason: String?, predicted: String, kind: String
        var verdict: String, delivered: Bool, path: [String], listener: String?, reasons: [String]

        init(_ c: PortComparison) {
            proto = c.proto.rawValue
            address = c.address
            port = c.port
            iif = c.iif
            scan = c.scan.rawValue
            scanReason = c.scanReason
            predicted = c.predicted.label
            kind = c.kind.rawValue
            verdict = c.trace.verdict.rawValue
            delivered = c.trace.delivered
            path = c.trace.path.map(\.text)
            listener = c.trace.listener.map { l in "\(l.proto.rawValue) \(l.address.contains(":") ? "[\(l.address)]" : l.address):\(l.port)" }
            if case .either(let why) = c.predicted { reasons = [why] } else { reasons = [] }
        }

        private enum CodingKeys: String, CodingKey {
            case proto, address, port, iif, scan, scanReason, predicted, kind, verdict, delivered, path, listener, reasons
        }

        /// Every key is always there: `scanReason` and `listener` are null when absent, not left out.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(proto, forKey: .proto)
            try c.encode(address, forKey: .address)
            try c.encode(port, forKey: .port)
            try c.encode(iif, forKey: .iif)
            try c.encode(scan, forKey: .scan)
            try c.encode(scanReason, forKey: .scanReason)
            try c.encode(predicted, forKey: .predicted)
            try c.encode(kind, forKey: .kind)
            try c.encode(verdict, forKey: .verdict)
            try c.encode(delivered, forKey: .delivered)
            try c.encode(path, forKey: .path)
            try c.encode(listener, forKey: .listener)
            try c.encode(reasons, forKey: .reasons)
        }
    }
}
