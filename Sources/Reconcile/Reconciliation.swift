import Evaluator
import HostModel

/// One scanned port: nmap's state beside the prediction, and which kind of agreement or mismatch that is.
public struct PortComparison: Sendable, Equatable {
    /// Where a port lands in the report.
    public enum Kind: String, Sendable, Codable {
        case agree
        /// nmap saw it open; portwarden says closed or filtered (a model gap, a stale snapshot, or a middlebox).
        case openInScan = "open-in-scan"
        /// portwarden says open; nmap did not see it open.
        case openPredicted = "open-predicted"
        /// Neither says open, but one says closed and the other filtered.
        case closedOrFiltered = "closed-or-filtered"
        /// No prediction (conditional): listed, never a mismatch.
        case either
    }

    public var proto: L4Proto
    /// The scanned address (the probe's destination) and the interface the probe arrived on.
    public var address: String
    public var port: UInt16
    public var iif: String
    /// nmap's state and reason for the port.
    public var scan: NmapState
    public var scanReason: String?
    public var predicted: Prediction
    public var kind: Kind
    /// The trace the prediction came from: its verdict, path and listener explain a mismatch.
    public var trace: TraceResult
}

/// The scan against the snapshot: every scanned port compared, and the hosts nmap did not find up.
public struct Reconciliation: Sendable {
    /// Every scanned port of every host that was up, in the report's order.
    public var comparisons: [PortComparison]
    /// Hosts of the report that were not up, so nothing was scanned on them (listed, not compared).
    public var hostsNotUp: [NmapHost]
    /// The input interface used for each scanned address.
    public var interfaces: [(address: String, iif: String)]

    /// The ports that make the exit code 1.
    public var mismatches: [PortComparison] { comparisons.filter { $0.kind != .agree && $0.kind != .either } }
    /// The conditional ones: listed, not counted as mismatches.
    public var undecided: [PortComparison] { comparisons.filter { $0.kind == .either } }
}

/// Bad arguments for this scan and snapshot (a usage error), or a scan that does not belong to this host.
public enum ReconcileError: Error, Equatable, CustomStringConvertible {
    case usage(String)
    case input(String)

    public var description: String {
        switch self {
        case .usage(let m), .input(let m): m
        }
    }
}

/// Compares a scan with what the evaluator predicts for every scanned port, asking exactly what `trace` asks.
public enum Reconciler {
    /// - Parameters:
    ///   - from: the scanner's source address, as this host sees it.
    ///   - iif: the interface the scan arrives on; nil to take, per scanned address, the one non-loopback interface
    ///     that holds it.
    public static func run(scan: NmapScan, snapshot: Snapshot, evaluator: Evaluator, from: String, iif: String?)
        throws(ReconcileError) -> Reconciliation
    {
        guard let source = IPAddress(from) else { throw .usage("--from '\(TerminalText.escape(from))' is not an IPv4 or IPv6 address") }
        if let iif, !evaluator.hasInterface(named: iif) {
            // As `trace` does: the kernel never sees a packet on a device the host does not have.
            let known = evaluator.interfaceNames.map { "'\(TerminalText.escape($0))'" }.joined(separator: ", ")
            throw .input("--iif: no interface '\(TerminalText.escape(iif))' in the snapshot (it has \(known))")
        }
        var out = Reconciliation(comparisons: [], hostsNotUp: [], interfaces: [])
        for host in scan.hosts {
            guard host.status == "up" else { out.hostsNotUp.append(host); continue }
            for address in host.addresses {
                let arrival = try interface(for: address, source: source, from: from, iif: iif, snapshot: snapshot)
                out.interfaces.append((address, arrival))
                for port in host.ports {
                    guard let technique = scan.techniques[port.proto] else { continue }
                    let probe = Probe(proto: port.proto, src: from, dst: address, dport: port.port, iif: arrival)
                    let result: TraceResult
                    do { result = try evaluator.trace(probe) } catch { throw .input(error.description) }
                    let predicted = Predictor.predict(
                        result, proto: port.proto, family: source.family, technique: technique,
                        firewall: snapshot.firewall)
                    out.comparisons.append(
                        PortComparison(
                            proto: port.proto, address: address, port: port.port, iif: arrival,
                            scan: port.state, scanReason: port.reason, predicted: predicted,
                            kind: kind(scan: port.state, predicted: predicted), trace: result))
                }
            }
        }
        guard !out.interfaces.isEmpty else {
            throw .input("the scan has no host that is up: nothing was scanned to compare")
        }
        return out
    }

    static func kind(scan: NmapState, predicted: Prediction) -> PortComparison.Kind {
        guard case .observed(let p) = predicted else { return .either }
        if scan.allows.contains(p) { return .agree }
        if p == .open { return .openPredicted }
        if scan == .open { return .openInScan }
        return .closedOrFiltered
    }

    /// The interface a scan of `address` arrives on: `--iif`, or the one non-loopback interface holding the address.
    static func interface(for address: String, source: IPAddress, from: String, iif: String?, snapshot: Snapshot)
        throws(ReconcileError) -> String
    {
        guard let target = IPAddress(address) else { throw .input("the scan's address '\(TerminalText.escape(address))' is not an IP address") }
        guard target.family == source.family else {
            throw .usage("--from \(from) is \(source.family.rawValue), the scanned address \(address) is \(target.family.rawValue)")
        }
        let holders = snapshot.interfaces.filter { i in i.addresses.contains { IPAddress($0.address) == target } }
        guard !holders.isEmpty else {
            throw .input("the scanned address \(address) is not an address of this host's interfaces: the scan is of another host")
        }
        if let iif { return iif }
        let candidates = holders.filter { !$0.isLoopback }
        guard candidates.count == 1 else {
            let which = candidates.isEmpty ? "no non-loopback interface" : candidates.map(\.name).joined(separator: " and ")
            throw .usage("give --iif: the scanned address \(address) is on \(which), so the interface the scan arrived on is not known")
        }
        return candidates[0].name
    }
}
