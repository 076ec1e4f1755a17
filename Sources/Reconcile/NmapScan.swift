import HostModel

/// A port state as nmap reports it. The two combined states are nmap saying it could not tell which of the two.
public enum NmapState: String, Sendable, Codable, Equatable, CaseIterable {
    case open, closed, filtered, unfiltered
    case openFiltered = "open|filtered"
    case closedFiltered = "closed|filtered"

    /// The plain observations this state allows (`unfiltered`: a response came, so open or closed).
    public var allows: Set<Observation> {
        switch self {
        case .open: [.open]
        case .closed: [.closed]
        case .filtered: [.filtered]
        case .unfiltered: [.open, .closed]
        case .openFiltered: [.open, .filtered]
        case .closedFiltered: [.closed, .filtered]
        }
    }
}

/// What a scanner can observe about one port: a connection or reply (open), a refusal (TCP RST or ICMP port
/// unreachable: closed), or silence or another ICMP error (filtered).
public enum Observation: String, Sendable, Codable, Hashable, Comparable {
    case open, closed, filtered

    public static func < (a: Observation, b: Observation) -> Bool { a.rank < b.rank }
    private var rank: Int {
        switch self {
        case .open: 0
        case .closed: 1
        case .filtered: 2
        }
    }
}

/// How nmap probed a protocol: the technique decides what an ICMP port unreachable looks like (a connect scan sees
/// ECONNREFUSED, closed; a SYN scan calls every ICMP unreachable filtered).
public enum ScanTechnique: String, Sendable, Codable, Equatable {
    case connect, syn, udp
}

/// One scanned port of one host and the state nmap gave it (listed, or from an `extraports` group).
public struct NmapPort: Sendable, Equatable, Hashable {
    public var proto: L4Proto
    public var port: UInt16
    public var state: NmapState
    /// nmap's `reason` (`syn-ack`, `conn-refused`, `no-response`, `port-unreach`, …), when it gave one.
    public var reason: String?

    public init(proto: L4Proto, port: UInt16, state: NmapState, reason: String? = nil) {
        self.proto = proto
        self.port = port
        self.state = state
        self.reason = reason
    }
}

/// One `<host>` of the report.
public struct NmapHost: Sendable, Equatable {
    /// The host's IPv4 and IPv6 addresses as nmap wrote them (MAC addresses are left out).
    public var addresses: [String]
    /// nmap's host status (`up`, `down`, `unknown`); only an `up` host has port results.
    public var status: String
    /// Every scanned port with its state, sorted by protocol and port.
    public var ports: [NmapPort]

    public init(addresses: [String], status: String, ports: [NmapPort]) {
        self.addresses = addresses
        self.status = status
        self.ports = ports
    }
}

/// A parsed nmap XML report (`nmap -oX`).
public struct NmapScan: Sendable, Equatable {
    /// The technique per protocol, from `<scaninfo>`.
    public var techniques: [L4Proto: ScanTechnique]
    public var hosts: [NmapHost]
    /// The command line nmap recorded, for the report's header.
    public var args: String?

    public init(techniques: [L4Proto: ScanTechnique], hosts: [NmapHost], args: String? = nil) {
        self.techniques = techniques
        self.hosts = hosts
        self.args = args
    }
}

/// Why a file is not an nmap report this command can compare, with the position XMLParser was at.
public struct NmapParseError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// nmap's port lists (`services="1-3,22,80"`, `ports="20-21,23"`): comma-separated ports and ranges.
enum PortList {
    /// The ports listed, or nil when the text is not such a list.
    static func parse(_ text: String) -> [UInt16]? {
        var out: [UInt16] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 1 || bounds.count == 2,
                let low = UInt16(bounds[0]), let high = UInt16(bounds[bounds.count - 1]), low <= high
            else { return nil }
            out.append(contentsOf: low...high)
        }
        return out
    }
}
