import ArgumentParser
import Foundation
import HostModel
import Serialization

/// `portwarden listeners`: every listening socket with its bind scope and owners — the inventory the audit starts from.
struct Listeners: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listeners",
        abstract: "List every listening TCP socket and bound UDP socket, with bind scope and owning processes.",
        discussion: """
            OWNER is name[pid] for each process holding the socket, "-" when no process holds it (a kernel socket), \
            and "?" when the owners could not be read (run as root with CAP_SYS_PTRACE).

            \(ExitStatus.documentation)
            """
    )

    @OptionGroup var source: HostSource
    @OptionGroup var destination: OutputFile

    @Option(name: .long, help: "Output format: text (an aligned table) or json (the listeners array).")
    var format: ViewFormat = .text

    func run() throws {
        try exitOnFailure {
            // The socket view needs no firewall: like `ss`, it works without CAP_NET_ADMIN.
            let snapshot = try source.load(firewall: false)
            switch format {
            case .json:
                var data = SnapshotCodec.encodeListeners(snapshot.listeners)
                data.append(0x0a)
                try emit(data, to: destination.output)
            case .text:
                try emit(ListenerTable.render(snapshot.listeners) + ListenerTable.namespaces(snapshot.namespaces), to: destination.output)
            }
            printWarnings(snapshot.warnings)
        }
    }
}

/// The text view of `listeners`, kept separate from the command so its layout has one definition.
enum ListenerTable {
    static let header = ["PROTO", "ADDRESS:PORT", "SCOPE", "UID", "OWNER", "UNIT"]

    /// Memoises what repeats across rows (a few bind addresses, a few holder processes), so a 50,000-socket
    /// table does not re-parse the same address or re-join the same owner list 50,000 times.
    struct Cache {
        var scopes: [String: BindScope] = [:]
        var owners: [[Int32]: (owner: String, unit: String)] = [:]

        mutating func scope(_ l: Listener) -> String {
            let s: BindScope
            if let known = scopes[l.address] { s = known } else { s = l.bindScope; scopes[l.address] = s }
            if l.family == .ipv6, s == .wildcard, !l.address.hasPrefix("::ffff:") {
                return l.v6only ? "wildcard/v6only" : "wildcard/dual-stack"
            }
            return s.rawValue
        }

        mutating func ownerAndUnit(_ l: Listener) -> (owner: String, unit: String) {
            if l.owner != .known { return (ListenerTable.emptyOwner(l.owner), ListenerTable.unit(l)) }
            let key = l.processes.map(\.pid)
            if let hit = owners[key] { return hit }
            // Process names and units are escaped: any user can rename a process to control characters.
            let value = (
                l.processes.isEmpty ? "-" : l.processes.map { "\(TerminalText.escape($0.name))[\($0.pid)]" }.joined(separator: ","),
                ListenerTable.unit(l)
            )
            owners[key] = value
            return value
        }
    }

    /// One table per other network namespace that has listeners (containers, pods, named ones), headed by who
    /// runs in it; namespaces that could not be entered are named, never left out.
    static func namespaces(_ ns: [NetworkNamespace]) -> String {
        var out = ""
        for n in ns where !n.listeners.isEmpty || !n.entered {
            let pids = n.pids.isEmpty ? "" : " (pid \(n.pids.prefix(3).map(String.init).joined(separator: ", "))\(n.pids.count > 3 ? ", …" : ""))"
            out += "\nNETNS \(TerminalText.escape(n.label))\(pids)\n"
            out += n.entered ? render(n.listeners) : "  not read: \(TerminalText.escape(n.warnings.first ?? "the namespace could not be entered"))\n"
        }
        return out
    }

    /// The OWNER cell of a socket without a listed holder: `?` when the holders could not be read, `(kernel)` when
    /// no process holds it (proven), `-` for a snapshot that says known but lists none.
    static func emptyOwner(_ owner: OwnerStatus) -> String {
        switch owner {
        case .unknown: "?"
        case .kernel: "(kernel)"
        case .known: "-"
        }
    }

    static func unit(_ l: Listener) -> String {
        var seen: [String] = []
        for p in l.processes { if let u = p.unit, !seen.contains(u) { seen.append(u) } }
        return seen.isEmpty ? "-" : TerminalText.escape(seen.joined(separator: ","))
    }

    /// Rows sorted by protocol, then port, then address; columns padded to their widest cell.
    static func render(_ listeners: [Listener]) -> String {
        let sorted = listeners.sorted { a, b in
            if a.proto != b.proto { return a.proto < b.proto }
            if a.port != b.port { return a.port < b.port }
            if a.address != b.address { return a.address < b.address }
            return a.cookie < b.cookie
        }
        var cache = Cache()
        var rows = [header]
        rows.reserveCapacity(sorted.count + 1)
        for l in sorted {
            let ou = cache.ownerAndUnit(l)
            rows.append([
                l.proto.rawValue, l.device == nil ? l.endpoint : TerminalText.escape(l.endpoint), cache.scope(l), String(l.uid), ou.owner, ou.unit
            ])
        }
        // Widths in bytes of UTF-8 would misalign non-ASCII process names; count characters once per cell.
        var widths = Array(repeating: 0, count: header.count)
        var lengths: [[Int]] = []
        lengths.reserveCapacity(rows.count)
        for r in rows {
            let ls = r.map(\.count)
            for i in 0..<ls.count { widths[i] = max(widths[i], ls[i]) }
            lengths.append(ls)
        }
        var out = ""
        out.reserveCapacity(rows.count * (widths.reduce(0, +) + 12))
        for (r, ls) in zip(rows, lengths) {
            for i in 0..<r.count {
                out += r[i]
                if i < r.count - 1 { out += String(repeating: " ", count: widths[i] - ls[i] + 2) }
            }
            out += "\n"
        }
        return out
    }
}
