import Foundation

// The kernel half of the differential harness: a host namespace with two peers on separate veth links, a socket
// holder in the host, probers in every namespace, and `portwarden collect` + `trace` run against the same case.

enum DiffError: Error, CustomStringConvertible {
    case setup(String)
    case ruleset(String)
    case holder(String)
    case prober(String)
    case portwarden(String)

    var description: String {
        switch self {
        case .setup(let m): "topology setup failed: \(m)"
        case .ruleset(let m): "nft rejected the generated ruleset (generator bug): \(m)"
        case .holder(let m): "socket holder: \(m)"
        case .prober(let m): "prober: \(m)"
        case .portwarden(let m): "portwarden: \(m)"
        }
    }
}

/// Which socket a probe reached; nil when nothing received it.
struct DiffReceiver: Hashable, Sendable, CustomStringConvertible {
    var proto: String
    var address: String
    var port: Int
    var device: String?

    init(proto: String, address: String, port: Int, device: String?) {
        self.proto = proto
        self.address = DiffReceiver.canonical(address)
        self.port = port
        self.device = device.flatMap { $0.isEmpty ? nil : $0 }
    }

    init(_ l: DiffListener) { self.init(proto: l.proto, address: l.address, port: l.port, device: l.device) }

    var description: String {
        let host = address.contains(":") ? "[\(address)]" : address
        return "\(proto) \(host)\(device.map { "%\($0)" } ?? ""):\(port)"
    }

    /// inet_pton + inet_ntop, so `0:0::` and `::` compare equal.
    static func canonical(_ text: String) -> String {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            if inet_ntop(AF_INET, &v4, &buf, socklen_t(buf.count)) != nil {
                return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if inet_ntop(AF_INET6, &v6, &buf, socklen_t(buf.count)) != nil {
                return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return text
    }
}

/// What the kernel did with one probe.
struct KernelOutcome: Sendable {
    var delivered: Bool
    var receiver: DiffReceiver?
    /// The prober's own view (TCP: connect result), for the harness's self-check.
    var proberNote: String
    /// TCP: the SYN reached a listener (a request socket exists, or the listener dropped it) but the handshake
    /// could not complete. `delivered` follows the trace contract: the packet was accepted and a listener got it.
    var halfOpen: Bool = false
}

/// What `portwarden trace` said about one probe.
struct TraceOutcome: Sendable {
    var verdict: String
    var delivered: Bool
    var receiver: DiffReceiver?
    var line: String
}

final class DiffLab {
    let host: TestNamespace
    let peerA: TestNamespace
    let peerB: TestNamespace
    let workDir: URL
    let script: URL
    private var holder: (process: Process, stopFile: URL)?
    /// For cases configured by a tool (ufw): what it printed and the ruleset it produced, for failure reports.
    private(set) var loadedRuleset: String?

    init() throws {
        workDir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pwdiff-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
        script = workDir.appendingPathComponent("pwdiff.py")
        try Data(differentialHelperScript.utf8).write(to: script)
        host = try TestNamespace("dfh")
        peerA = try TestNamespace("dfa")
        peerB = try TestNamespace("dfb")
        do { try build() } catch { cleanup(); throw error }
    }

    deinit { cleanup() }

    func cleanup() {
        stopHolder()
        peerA.cleanup()
        peerB.cleanup()
        host.cleanup()
        try? FileManager.default.removeItem(at: workDir)
    }

    private func build() throws {
        typealias T = DiffTopology
        try host.veth(T.linkA, T.peerLinkA, peer: peerA)
        try host.veth(T.linkB, T.peerLinkB, peer: peerB)
        try host.exec([
            "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
            "net.ipv4.conf.\(T.linkA).rp_filter=0", "net.ipv4.conf.\(T.linkB).rp_filter=0", "net.ipv4.ip_forward=0"
        ])
        let hostSide: [(String, [String])] = [
            (T.linkA, ["\(T.hostA4)/24", "\(T.hostA6)/64"]),
            (T.linkB, ["\(T.hostB4)/24", "\(T.hostB6)/64"])
        ]
        for (dev, addrs) in hostSide { for a in addrs { try host.exec(["ip", "addr", "add", a, "dev", dev] + (a.contains(":") ? ["nodad"] : [])) } }
        let peers: [(TestNamespace, String, [String], String, String)] = [
            (
                peerA, T.peerLinkA,
                ["\(T.peerA4)/24", "203.0.113.10/32", "203.0.113.200/32", "\(T.peerA6)/64", "2001:db8:c::10/128", "2001:db8:d::20/128"], T.hostA4,
                T.hostA6
            ),
            (
                peerB, T.peerLinkB,
                ["\(T.peerB4)/24", "203.0.113.130/32", "203.0.113.20/32", "\(T.peerB6)/64", "2001:db8:d::10/128", "2001:db8:c::20/128"], T.hostB4,
                T.hostB6
            )
        ]
        for (ns, dev, addrs, gw4, gw6) in peers {
            try ns.exec(["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"])
            for a in addrs { try ns.exec(["ip", "addr", "add", a, "dev", dev] + (a.contains(":") ? ["nodad"] : [])) }
            try ns.exec(["ip", "route", "add", "default", "via", gw4, "dev", dev])
            try ns.exec(["ip", "-6", "route", "add", "default", "via", gw6, "dev", dev])
        }
        try host.exec(["ip", "route", "add", "203.0.113.0/25", "via", T.peerA4, "dev", T.linkA])
        try host.exec(["ip", "route", "add", "203.0.113.128/25", "via", T.peerB4, "dev", T.linkB])
        try host.exec(["ip", "-6", "route", "add", "2001:db8:c::/64", "via", T.peerA6, "dev", T.linkA])
        try host.exec(["ip", "-6", "route", "add", "2001:db8:d::/64", "via", T.peerB6, "dev", T.linkB])
        // Static neighbours: the generated rulesets may drop ICMPv6 neighbour discovery, which must not make a
        // probe fail for a reason the probe itself is not about.
        func mac(_ ns: TestNamespace, _ dev: String) throws -> String {
            let m = try ns.exec(["cat", "/sys/class/net/\(dev)/address"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            guard m.split(separator: ":").count == 6 else { throw DiffError.setup("no MAC for \(dev): \(m)") }
            return m
        }
        let macA0 = try mac(host, T.linkA), macB0 = try mac(host, T.linkB)
        let macA1 = try mac(peerA, T.peerLinkA), macB1 = try mac(peerB, T.peerLinkB)
        for (addr, m, dev) in [(T.peerA4, macA1, T.linkA), (T.peerA6, macA1, T.linkA), (T.peerB4, macB1, T.linkB), (T.peerB6, macB1, T.linkB)] {
            try host.exec(["ip", "neigh", "replace", addr, "lladdr", m, "dev", dev, "nud", "permanent"])
        }
        for (addr, m) in [(T.hostA4, macA0), (T.hostA6, macA0)] {
            try peerA.exec(["ip", "neigh", "replace", addr, "lladdr", m, "dev", T.peerLinkA, "nud", "permanent"])
        }
        for (addr, m) in [(T.hostB4, macB0), (T.hostB6, macB0)] {
            try peerB.exec(["ip", "neigh", "replace", addr, "lladdr", m, "dev", T.peerLinkB, "nud", "permanent"])
        }
    }

    private func namespace(_ origin: ProbeOrigin) -> TestNamespace {
        switch origin {
        case .peerA: peerA
        case .peerB: peerB
        case .local: host
        }
    }

    // MARK: one case

    /// Loads the ruleset (replacing the previous one), starts the holder with the case's sockets, and runs `body`
    /// while they are held. The holder is always stopped afterwards; its log is returned with body's result.
    func withCase<R>(_ c: DiffCase, _ body: () throws -> R) throws -> (R, [[String: Any]]) {
        do {
            try host.nft("flush ruleset\n" + (c.toolScript == nil ? c.ruleset : ""))
        } catch let ShellError.failed(_, _, stderr) {
            throw DiffError.ruleset(stderr)
        }
        loadedRuleset = nil
        for (tool, text) in [("iptables-nft-restore", c.iptables), ("ip6tables-nft-restore", c.ip6tables)] {
            guard let text else { continue }
            let r = try host.exec([tool], input: Data(text.utf8), check: false)
            guard r.status == 0 else { throw DiffError.ruleset("\(tool): \(r.stderr)") }
        }
        if let script = c.toolScript {
            let r = try host.exec(["unshare", "-m", "--propagation", "private", "sh", "-c", script], check: false)
            guard r.status == 0 else { throw DiffError.setup("\(c.title) configuration failed (\(r.status)): \(r.stderr)\(r.stdout)") }
            loadedRuleset = r.stdout + "\n" + ((try? host.exec(["nft", "list", "ruleset"]).stdout) ?? "")
        }
        let spec = c.listeners.map { l -> [String: Any] in
            var d: [String: Any] = ["id": l.id, "proto": l.proto, "family": l.family, "address": l.address, "port": l.port, "v6only": l.v6only]
            if let dev = l.device { d["device"] = dev }
            return d
        }
        let specURL = workDir.appendingPathComponent("spec.json")
        let readyURL = workDir.appendingPathComponent("ready.json")
        let logURL = workDir.appendingPathComponent("holder.log")
        let stopURL = workDir.appendingPathComponent("ready.json.stop")
        for u in [readyURL, logURL, stopURL] { try? FileManager.default.removeItem(at: u) }
        try JSONSerialization.data(withJSONObject: spec).write(to: specURL)
        let process = try host.spawn(["python3", script.path, "hold", specURL.path, readyURL.path, logURL.path])
        holder = (process, stopURL)
        defer { stopHolder() }
        let deadline = Date().addingTimeInterval(5)
        while !FileManager.default.fileExists(atPath: readyURL.path) {
            if !process.isRunning && !FileManager.default.fileExists(atPath: readyURL.path) {
                throw DiffError.holder("exited with \(process.terminationStatus) before it was ready")
            }
            if Date() > deadline { throw DiffError.holder("not ready after 5 s") }
            usleep(5_000)
        }
        let ready = try JSONSerialization.jsonObject(with: Data(contentsOf: readyURL)) as? [String: Any]
        if let error = ready?["error"] as? String { throw DiffError.holder("bind failed (generator bug): \(error)") }
        let result = try body()
        stopHolder()
        guard process.terminationStatus == 0 else { throw DiffError.holder("exited with \(process.terminationStatus)") }
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        let log = text.split(whereSeparator: \.isNewline).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        return (result, log)
    }

    /// Asks the holder to drain and exit (stop file), and kills it if it does not within 3 s.
    private func stopHolder() {
        guard let (p, stopFile) = holder else { return }
        holder = nil
        _ = FileManager.default.createFile(atPath: stopFile.path, contents: Data())
        let deadline = Date().addingTimeInterval(3)
        while p.isRunning && Date() < deadline { usleep(2_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    /// Sends every probe from its origin namespace, the three origins at once, and returns the probers' results
    /// (probe id → note). The TCP timeout stays below the 1 s SYN retransmission, so a dropped SYN is never retried,
    /// and leaves room for a loaded CI machine.
    func sendProbes(_ probes: [DiffProbe], tcpTimeoutMs: Int = 600) throws -> [Int: String] {
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var notes: [Int: String] = [:]
            var errors: [String] = []
        }
        let box = Box()
        let jobs: [(String, Data)] = try ProbeOrigin.allCases.compactMap { origin in
            let mine = probes.filter { $0.origin == origin }
            if mine.isEmpty { return nil }
            var input = Data()
            for p in mine { input += try JSONSerialization.data(withJSONObject: p.proberLine, options: [.sortedKeys]); input += Data("\n".utf8) }
            return (namespace(origin).name, input)
        }
        let scriptPath = script.path
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            let (ns, input) = jobs[i]
            do {
                let r = try run(["ip", "netns", "exec", ns, "python3", scriptPath, "probe", String(tcpTimeoutMs)], input: input)
                var notes: [Int: String] = [:]
                for line in r.stdout.split(whereSeparator: \.isNewline) {
                    guard let d = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                        let pid = d["pid"] as? Int
                    else { continue }
                    let ok = (d["ok"] as? Bool) ?? false
                    notes[pid] = ok ? ((d["sent"] as? Bool) == true ? "sent" : "connected") : "failed: \(d["err"] ?? "?")"
                }
                box.lock.lock(); box.notes.merge(notes) { a, _ in a }; box.lock.unlock()
            } catch {
                box.lock.lock(); box.errors.append("\(ns): \(error)"); box.lock.unlock()
            }
        }
        if !box.errors.isEmpty { throw DiffError.prober(box.errors.joined(separator: "; ")) }
        return box.notes
    }

    /// Runs the case against the kernel: what arrived at which socket. With `during`, runs that while the
    /// sockets are held (used to take the snapshot).
    func kernelOutcomes(_ c: DiffCase, during: () throws -> Void = {}) throws -> [Int: KernelOutcome] {
        let ((notes, synRecv, droppedByListener), log) = try withCase(c) { () throws -> ([Int: String], String, Set<Int>) in
            try during()
            let notes = try sendProbes(c.probes)
            // A SYN can reach a listener whose handshake then cannot complete: a socket bound to a device answers a
            // local client through that device, not through lo. For IPv4 the request socket (SYN-RECV) shows it.
            let synRecv = try host.exec(["ss", "-tanH", "state", "syn-recv"]).stdout
            // For IPv6 the listener drops the SYN instead (no route for its SYN-ACK: Ip6OutNoRoutes, ListenDrops).
            // Re-send each such SYN alone (same 4-tuple, so the same conntrack entry and rule matches) and watch
            // TcpExtListenDrops.
            var dropped = Set<Int>()
            let suspects = c.probes.filter { p in
                p.proto == "tcp" && p.origin == .local && p.dst.contains(":") && notes[p.pid] == "failed: timeout"
                    && c.listeners.contains { $0.proto == "tcp" && $0.port == p.dport && $0.device != nil }
            }
            for p in suspects {
                let before = try listenDrops()
                _ = try sendProbes([p], tcpTimeoutMs: 200)
                if try listenDrops() > before { dropped.insert(p.pid) }
            }
            return (notes, synRecv, dropped)
        }
        let byID = Dictionary(c.listeners.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var tcpArrivals: [String: Int] = [:]  // "src sport" → listener id
        var udpArrivals: [Int: Int] = [:]  // probe id → listener id
        for rec in log {
            guard let id = rec["id"] as? Int else { continue }
            if (rec["proto"] as? String) == "udp" {
                if let payload = rec["payload"] as? String, payload.hasPrefix("pwprobe:"), let pid = Int(payload.dropFirst(8)) {
                    udpArrivals[pid] = id
                }
            } else if let src = rec["src"] as? String, let sport = rec["sport"] as? Int {
                tcpArrivals["\(DiffReceiver.canonical(src)) \(sport)"] = id
            }
        }
        let halfOpen = Self.parseSynRecv(synRecv)
        var out: [Int: KernelOutcome] = [:]
        for p in c.probes {
            let id = p.proto == "tcp" ? tcpArrivals["\(DiffReceiver.canonical(p.src)) \(p.sport)"] : udpArrivals[p.pid]
            var receiver = id.flatMap { byID[$0] }.map(DiffReceiver.init)
            var note = notes[p.pid] ?? "no prober result"
            if receiver == nil, p.proto == "tcp", let req = halfOpen["\(DiffReceiver.canonical(p.src)) \(p.sport)"] {
                receiver = Self.listener(for: req, port: p.dport, among: c.listeners).map(DiffReceiver.init)
                note += ", SYN-RECV at \(req.local)\(req.device.map { "%\($0)" } ?? "")"
                if receiver == nil { note += " (no listener matches it: harness bug)" }
            }
            if receiver == nil, droppedByListener.contains(p.pid) {
                // Only a device-bound socket drops a host-local SYN this way; take it as the kernel's lookup would.
                let candidates = c.listeners.filter { l in
                    l.proto == "tcp" && l.port == p.dport && l.device != nil && l.receivesV6
                        && (l.isWildcard || DiffReceiver.canonical(l.address) == DiffReceiver.canonical(p.dst))
                }
                receiver = (candidates.first { !$0.isWildcard } ?? candidates.first).map(DiffReceiver.init)
                note += ", SYN taken and dropped by a listener (TcpExtListenDrops +1: no route for its SYN-ACK)"
                if receiver == nil { note += " (no device-bound listener matches it: harness bug)" }
            }
            out[p.pid] = KernelOutcome(
                delivered: receiver != nil, receiver: receiver, proberNote: note,
                halfOpen: note.contains("SYN-RECV") || note.contains("ListenDrops"))
        }
        return out
    }

    /// TcpExtListenDrops of the host namespace, from /proc/net/netstat.
    private func listenDrops() throws -> Int {
        let lines = try host.exec(["cat", "/proc/net/netstat"]).stdout.split(whereSeparator: \.isNewline)
        for (names, values) in zip(lines, lines.dropFirst()) where names.hasPrefix("TcpExt:") && values.hasPrefix("TcpExt:") {
            let n = names.split(separator: " "), v = values.split(separator: " ")
            if let i = n.firstIndex(of: "ListenDrops"), i < v.count, let value = Int(v[i]) { return value }
        }
        throw DiffError.setup("no TcpExt ListenDrops in /proc/net/netstat")
    }

    /// A request socket from `ss -tanH state syn-recv`: the SYN's destination as the listener saw it, the
    /// listener's device binding, and whether it sits on an AF_INET6 listener (v4-mapped or IPv6 addresses).
    struct HalfOpen { var local: String; var device: String?; var v6Socket: Bool; var mapped: Bool }

    /// Keyed by "peer-address peer-port".
    static func parseSynRecv(_ text: String) -> [String: HalfOpen] {
        var out: [String: HalfOpen] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard f.count >= 4 else { continue }
            func split(_ endpoint: String) -> (host: String, device: String?, port: Int)? {
                guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else { return nil }
                var host = String(endpoint[..<colon])
                var device: String? = nil
                if let pct = host.lastIndex(of: "%") { device = String(host[host.index(after: pct)...]); host = String(host[..<pct]) }
                if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
                return (host, device, port)
            }
            guard let local = split(f[2]), let peer = split(f[3]) else { continue }
            let mapped = local.host.lowercased().hasPrefix("::ffff:") && local.host.contains(".")
            let v6 = local.host.contains(":")
            let peerHost = peer.host.lowercased().hasPrefix("::ffff:") && peer.host.contains(".") ? String(peer.host.dropFirst(7)) : peer.host
            out["\(DiffReceiver.canonical(peerHost)) \(peer.port)"] = HalfOpen(
                local: mapped ? String(local.host.dropFirst(7)) : local.host, device: local.device, v6Socket: v6, mapped: mapped)
        }
        return out
    }

    /// The listener a request socket belongs to, from what the request socket shows (destination address, device
    /// binding, socket family). The generator never creates two sockets that could both take one packet, so this
    /// is unique: a specific address before a wildcard, as the kernel looks them up.
    static func listener(for req: HalfOpen, port: Int, among listeners: [DiffListener]) -> DiffListener? {
        let candidates = listeners.filter { l in
            guard l.proto == "tcp", l.port == port, l.device == req.device else { return false }
            guard (l.family == "ipv6") == req.v6Socket else { return false }
            if req.mapped && !l.receivesV4 { return false }
            return DiffReceiver.canonical(l.address) == DiffReceiver.canonical(req.local) || l.isWildcard
        }
        return candidates.first { !$0.isWildcard } ?? candidates.first
    }

    /// `portwarden collect` inside the host namespace.
    func collect(to url: URL) throws {
        let r = try host.exec([portwardenBinary, "collect", "--netns", "host", "--output", url.path], check: false)
        guard r.status == 0 else { throw DiffError.portwarden("collect exited \(r.status): \(r.stderr)") }
    }

    /// `portwarden trace` on a snapshot with the case's probes, one answer per probe in order.
    static func trace(snapshot: URL, probes: [DiffProbe]) throws -> [Int: TraceOutcome] {
        var input = Data()
        for p in probes { input += try JSONSerialization.data(withJSONObject: p.traceLine, options: [.sortedKeys]); input += Data("\n".utf8) }
        let r = try run([portwardenBinary, "trace", "--snapshot", snapshot.path, "--probes", "-"], input: input, check: false)
        guard r.status == 0 else { throw DiffError.portwarden("trace exited \(r.status): \(r.stderr.prefix(2000))") }
        let lines = r.stdout.split(whereSeparator: \.isNewline)
        guard lines.count == probes.count else {
            throw DiffError.portwarden(
                "trace wrote \(lines.count) lines for \(probes.count) probes: \(r.stdout.prefix(2000)) \(r.stderr.prefix(2000))")
        }
        var out: [Int: TraceOutcome] = [:]
        for (p, line) in zip(probes, lines) {
            guard let d = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw DiffError.portwarden("trace wrote a line that is not a JSON object: \(line)")
            }
            var receiver: DiffReceiver? = nil
            if let l = d["listener"] as? [String: Any], let proto = l["proto"] as? String, let address = l["address"] as? String,
                let port = (l["port"] as? NSNumber)?.intValue
            {
                receiver = DiffReceiver(proto: proto, address: address, port: port, device: l["device"] as? String)
            }
            out[p.pid] = TraceOutcome(
                verdict: (d["verdict"] as? String) ?? "?", delivered: (d["delivered"] as? Bool) ?? false,
                receiver: receiver, line: String(line))
        }
        return out
    }
}
