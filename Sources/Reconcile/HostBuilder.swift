import HostModel

/// One `<host>` while it is read, and the rule that gives every scanned port a state when the host ends.
struct HostBuilder {
    struct Key: Hashable, Comparable {
        var proto: L4Proto
        var port: UInt16
        static func < (a: Key, b: Key) -> Bool { (a.proto.rawValue, a.port) < (b.proto.rawValue, b.port) }
    }

    /// An `<extraports>` group: the ports nmap did not list one by one, all in one state. nmap 7.90 and later name
    /// them (`<extrareasons proto= ports=>`); older versions give only a count.
    struct Extra {
        var state: NmapState
        var count: Int
        var line: Int
        var column: Int
        var ports: [NmapPort] = []
        /// Some of its reasons come without a port list.
        var unlisted = false
    }

    /// Why the ports of a host do not add up; `line`/`column` when an element is to blame, else the host's end.
    struct Problem: Error {
        var message: String
        var line: Int?
        var column: Int?
    }

    var addresses: [String] = []
    var status = "unknown"
    var listed: [Key: NmapPort] = [:]
    var extras: [Extra] = []

    /// Every scanned port with its state. Ports of `extraports` groups with port lists get their group's state; the
    /// rest of the scanned ports (`services`) belong to the one group without lists, whose count must match. A host
    /// that is not up has no port results.
    func finish(services: [L4Proto: [UInt16]]) throws(Problem) -> NmapHost {
        guard status == "up" else { return NmapHost(addresses: addresses, status: status, ports: []) }
        var states = listed
        var countless: [Extra] = []
        for extra in extras {
            if extra.unlisted || extra.ports.isEmpty {
                countless.append(extra)
                continue
            }
            for p in extra.ports {
                let key = Key(proto: p.proto, port: p.port)
                guard states[key] == nil else {
                    throw Problem(message: "port \(p.port)/\(p.proto.rawValue) has two states", line: extra.line, column: extra.column)
                }
                states[key] = p
            }
        }
        var missing: [Key] = []
        for (proto, ports) in services {
            for port in ports where states[Key(proto: proto, port: port)] == nil { missing.append(Key(proto: proto, port: port)) }
        }
        missing.sort()
        if let group = countless.first {
            guard countless.count == 1 else {
                throw Problem(
                    message: "\(countless.count) extraports groups without port lists: which unlisted port is in which state "
                        + "cannot be told (nmap 7.90 and later write the lists)", line: group.line, column: group.column)
            }
            guard group.count == missing.count else {
                throw Problem(
                    message: "extraports count \(group.count) does not match the \(missing.count) scanned ports not listed",
                    line: group.line, column: group.column)
            }
            for key in missing { states[key] = NmapPort(proto: key.proto, port: key.port, state: group.state) }
        } else if let first = missing.first {
            throw Problem(
                message: "port \(first.port)/\(first.proto.rawValue) was scanned but the report gives it no state "
                    + "(\(missing.count) such port(s))")
        }
        guard !addresses.isEmpty else { throw Problem(message: "a host without an IPv4 or IPv6 address") }
        return NmapHost(addresses: addresses, status: status, ports: states.keys.sorted().compactMap { states[$0] })
    }
}
