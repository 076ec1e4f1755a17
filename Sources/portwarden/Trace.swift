import ArgumentParser
import Evaluator
import Foundation
import HostModel

/// `portwarden trace`: what the kernel does with one new connection, or with a batch of them (JSON lines).
struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow new connections through the firewall to the socket that would receive them.",
        discussion: """
            One probe from flags (printed as text, or JSON with --format json):
              portwarden trace --snapshot host.json --proto tcp --src 203.0.113.9 --dst 192.0.2.1 --dport 5432 --iif eth0
            A batch from JSON lines (a file, or - for stdin), one JSON line out per probe:
              {"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}   (optional "sport")
            --iif lo means the host talks to itself. Output adds verdict (accept|drop|reject|conditional), path,
            listener ({proto,address,port,device,processes} or null) and delivered.
            A bad probe line ends the command with exit code 2 naming the line.
            """
    )

    @OptionGroup var source: HostSource
    @OptionGroup var candidate: CandidateRuleset

    @Option(name: .long, help: ArgumentHelp("JSON-lines probe file, or - for stdin.", valueName: "file"))
    var probes: String?

    @Option(name: .long, help: "tcp or udp.") var proto: String?
    @Option(name: .long, help: "Source address.") var src: String?
    @Option(name: .long, help: "Destination address (as sent, before NAT).") var dst: String?
    @Option(name: .long, help: "Destination port.") var dport: UInt16?
    @Option(name: .long, help: "Source port (rules that test it are otherwise conditional).") var sport: UInt16?
    @Option(name: .long, help: "Input interface; lo for host-local traffic.") var iif: String?
    @Option(name: .long, help: "Output format for a single probe: text or json.") var format: ViewFormat = .text

    func validate() throws {
        if probes == nil {
            guard proto != nil, src != nil, dst != nil, dport != nil, iif != nil else {
                throw ValidationError("give --probes FILE, or all of --proto --src --dst --dport --iif")
            }
        }
    }

    func run() throws {
        try exitOnFailure {
            let snapshot = try candidate.apply(to: source.load()).0
            let evaluator = Evaluator(snapshot: snapshot)
            if let path = probes {
                try runBatch(evaluator, path: path)
            } else {
                try runSingle(evaluator)
            }
        }
    }

    private func runSingle(_ ev: Evaluator) throws {
        guard let p = L4Proto(rawValue: proto ?? "") else {
            throw CommandFailure(status: .invalidInput, message: "--proto must be tcp or udp, not '\(proto ?? "")'")
        }
        let probe = Probe(proto: p, src: src ?? "", dst: dst ?? "", sport: sport, dport: dport ?? 0, iif: iif ?? "")
        let result: TraceResult
        do {
            result = try ev.trace(probe)
        } catch {
            throw CommandFailure(status: .invalidInput, message: error.description)
        }
        var out = ""
        switch format {
        case .json:
            var w = JSONLineWriter()
            w.write(probe: probe, result: result)
            out = String(decoding: w.buffer, as: UTF8.self)
        case .text:
            out = TraceText.render(probe: probe, result: result, caveats: ev.caveats)
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private func runBatch(_ ev: Evaluator, path: String) throws {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw CommandFailure(status: .invalidInput, message: "cannot read probes \(path): \(error.localizedDescription)")
            }
        }
        var writer = JSONLineWriter()
        writer.buffer.reserveCapacity(1 << 20)
        let stdout = FileHandle.standardOutput
        var lineNumber = 0
        var failure: CommandFailure?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != 0x0a { end += 1 }
                lineNumber += 1
                let line = UnsafeBufferPointer(rebasing: bytes[start..<end])
                start = end + 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { continue }
                let probe: Probe
                do {
                    probe = try ProbeLine.parse(line)
                    let r = try ev.trace(probe)
                    writer.write(probe: probe, result: r)
                } catch let e as ProbeLineError {
                    failure = CommandFailure(status: .invalidInput, message: "probes line \(lineNumber): \(e.message)")
                    return
                } catch let e as ProbeError {
                    failure = CommandFailure(status: .invalidInput, message: "probes line \(lineNumber): \(e.description)")
                    return
                } catch {
                    failure = CommandFailure(status: .invalidInput, message: "probes line \(lineNumber): \(error)")
                    return
                }
                if writer.buffer.count >= 1 << 20 {
                    stdout.write(Data(writer.buffer))
                    writer.buffer.removeAll(keepingCapacity: true)
                }
            }
        }
        if !writer.buffer.isEmpty { stdout.write(Data(writer.buffer)) }
        if let failure { throw failure }
    }
}

/// A malformed probe line.
struct ProbeLineError: Error {
    var message: String
}

/// A fast parser for the flat JSON objects of the probe contract (strings, integers, null).
enum ProbeLine {
    enum Value { case string(String), number(Int64), null, bool(Bool) }

    /// The six known fields without a dictionary (unknown keys are ignored).
    struct Fields {
        var proto: Value?, src: Value?, dst: Value?, sport: Value?, dport: Value?, iif: Value?
        subscript(_ k: String) -> Value? {
            get {
                switch k {
                case "proto": proto
                case "src": src
                case "dst": dst
                case "sport": sport
                case "dport": dport
                case "iif": iif
                default: nil
                }
            }
            set {
                switch k {
                case "proto": proto = newValue
                case "src": src = newValue
                case "dst": dst = newValue
                case "sport": sport = newValue
                case "dport": dport = newValue
                case "iif": iif = newValue
                default: break
                }
            }
        }
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) throws(ProbeLineError) -> Probe {
        var i = 0
        func ws() { while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0d { i += 1 } }
        func expect(_ c: UInt8, _ what: String) throws(ProbeLineError) {
            ws()
            guard i < b.count, b[i] == c else { throw ProbeLineError(message: "expected \(what) at column \(i + 1)") }
            i += 1
        }
        func string() throws(ProbeLineError) -> String {
            try expect(0x22, "a string")
            var out: [UInt8] = []
            while i < b.count, b[i] != 0x22 {
                if b[i] == 0x5c {
                    i += 1
                    guard i < b.count else { break }
                    switch b[i] {
                    case 0x6e: out.append(0x0a)
                    case 0x74: out.append(0x09)
                    case 0x72: out.append(0x0d)
                    case 0x75:
                        guard i + 4 < b.count, let v = UInt32(String(decoding: UnsafeBufferPointer(rebasing: b[(i + 1)...(i + 4)]), as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(v) else { throw ProbeLineError(message: "bad \\u escape") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += 4
                    default: out.append(b[i])
                    }
                } else {
                    out.append(b[i])
                }
                i += 1
            }
            guard i < b.count else { throw ProbeLineError(message: "unterminated string") }
            i += 1
            return String(decoding: out, as: UTF8.self)
        }
        func value() throws(ProbeLineError) -> Value {
            ws()
            guard i < b.count else { throw ProbeLineError(message: "missing value") }
            switch b[i] {
            case 0x22: return .string(try string())
            case 0x6e where i + 4 <= b.count: i += 4; return .null
            case 0x74 where i + 4 <= b.count: i += 4; return .bool(true)
            case 0x66 where i + 5 <= b.count: i += 5; return .bool(false)
            default:
                var neg = false
                if b[i] == 0x2d { neg = true; i += 1 }
                var v: Int64 = 0, digits = 0
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                    v = v &* 10 &+ Int64(b[i] - 0x30); digits += 1; i += 1
                    if digits > 12 { throw ProbeLineError(message: "number too large") }
                }
                guard digits > 0 else { throw ProbeLineError(message: "unexpected character at column \(i + 1)") }
                if i < b.count, b[i] == 0x2e || b[i] == 0x65 || b[i] == 0x45 { throw ProbeLineError(message: "ports must be integers") }
                return .number(neg ? -v : v)
            }
        }
        try expect(0x7b, "'{'")
        var fields = Fields()
        ws()
        if i < b.count, b[i] == 0x7d { i += 1 } else {
            while true {
                let k = try string()
                try expect(0x3a, "':'")
                fields[k] = try value()
                ws()
                guard i < b.count else { throw ProbeLineError(message: "unterminated object") }
                if b[i] == 0x2c { i += 1; continue }
                if b[i] == 0x7d { i += 1; break }
                throw ProbeLineError(message: "expected ',' or '}' at column \(i + 1)")
            }
        }
        ws()
        guard i == b.count else { throw ProbeLineError(message: "trailing data after the object") }
        func str(_ k: String) throws(ProbeLineError) -> String {
            guard case .string(let s)? = fields[k] else { throw ProbeLineError(message: "field '\(k)' must be a string") }
            return s
        }
        func port(_ k: String, optional: Bool) throws(ProbeLineError) -> UInt16? {
            switch fields[k] {
            case nil, .null?:
                if optional { return nil }
                throw ProbeLineError(message: "missing field '\(k)'")
            case .number(let n)?:
                guard n >= 0, n <= 65535 else { throw ProbeLineError(message: "field '\(k)' must be 0-65535, not \(n)") }
                return UInt16(n)
            default: throw ProbeLineError(message: "field '\(k)' must be an integer")
            }
        }
        let protoText = try str("proto")
        guard let proto = L4Proto(rawValue: protoText) else { throw ProbeLineError(message: "field 'proto' must be tcp or udp, not '\(protoText)'") }
        let iif = try str("iif")
        guard !iif.isEmpty else { throw ProbeLineError(message: "field 'iif' must not be empty") }
        return Probe(proto: proto, src: try str("src"), dst: try str("dst"), sport: try port("sport", optional: true),
                     dport: try port("dport", optional: false) ?? 0, iif: iif)
    }
}

/// Writes trace results as JSON lines into a byte buffer (no per-line allocation of encoders).
struct JSONLineWriter {
    var buffer: [UInt8] = []

    mutating func raw(_ s: String) { buffer.append(contentsOf: s.utf8) }

    mutating func string(_ s: String) {
        buffer.append(0x22)
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) {
            buffer.append(contentsOf: s.utf8)
            buffer.append(0x22)
            return
        }
        for c in s.utf8 {
            switch c {
            case 0x22: buffer.append(contentsOf: [0x5c, 0x22])
            case 0x5c: buffer.append(contentsOf: [0x5c, 0x5c])
            case 0x0a: buffer.append(contentsOf: [0x5c, 0x6e])
            case 0x0d: buffer.append(contentsOf: [0x5c, 0x72])
            case 0x09: buffer.append(contentsOf: [0x5c, 0x74])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                buffer.append(contentsOf: [0x5c, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xf)]])
            default: buffer.append(c)
            }
        }
        buffer.append(0x22)
    }

    mutating func write(probe p: Probe, result r: TraceResult) {
        raw("{\"proto\":"); string(p.proto.rawValue)
        raw(",\"src\":"); string(p.src)
        raw(",\"dst\":"); string(p.dst)
        if let s = p.sport { raw(",\"sport\":\(s)") }
        raw(",\"dport\":\(p.dport),\"iif\":"); string(p.iif)
        raw(",\"verdict\":"); string(r.verdict.rawValue)
        raw(",\"path\":[")
        for (i, s) in r.path.enumerated() {
            if i > 0 { raw(",") }
            raw("{\"table\":"); string(s.table)
            raw(",\"family\":"); string(s.family)
            raw(",\"chain\":"); string(s.chain)
            raw(",\"hook\":"); string(s.hook)
            raw(",\"priority\":\(s.priority),\"handle\":")
            if let h = s.handle { raw("\(h)") } else { raw("null") }
            raw(",\"action\":"); string(s.action)
            raw("}")
        }
        raw("],\"listener\":")
        if let l = r.listener {
            raw("{\"proto\":"); string(l.proto.rawValue)
            raw(",\"address\":"); string(l.address)
            raw(",\"port\":\(l.port),\"device\":")
            if let d = l.device { string(d) } else { raw("null") }
            raw(",\"processes\":[")
            for (i, pr) in l.processes.enumerated() {
                if i > 0 { raw(",") }
                raw("{\"pid\":\(pr.pid),\"name\":"); string(pr.name); raw("}")
            }
            raw("]}")
        } else {
            raw("null")
        }
        raw(",\"delivered\":\(r.delivered),\"forwarded\":\(r.forwarded)")
        if let t = r.translatedTo { raw(",\"translatedTo\":"); string(t) }
        if !r.reasons.isEmpty {
            raw(",\"reasons\":[")
            for (i, s) in r.reasons.enumerated() { if i > 0 { raw(",") }; string(s) }
            raw("]")
        }
        raw("}\n")
    }
}

/// Human-readable rendering of one trace.
enum TraceText {
    static func render(probe p: Probe, result r: TraceResult, caveats: [String]) -> String {
        let sport = p.sport.map(String.init) ?? "*"
        let dst = p.dst.contains(":") ? "[\(p.dst)]" : p.dst
        let src = p.src.contains(":") ? "[\(p.src)]" : p.src
        var lines: [String] = []
        lines.append("\(p.proto.rawValue) \(src):\(sport) -> \(dst):\(p.dport) on \(p.iif)\(p.iif == "lo" ? " (host-local)" : "")")
        var outcome = "verdict: \(r.verdict.rawValue)"
        if r.forwarded { outcome += " (forwarded, not delivered locally)" }
        lines.append(outcome)
        if let t = r.translatedTo { lines.append("translated to: \(t)") }
        if let l = r.listener {
            let procs = l.processes.map { "\($0.name)[\($0.pid)]" }.joined(separator: ", ")
            let host = l.address.contains(":") ? "[\(l.address)]" : l.address
            lines.append("listener: \(l.proto.rawValue) \(host)\(l.device.map { "%\($0)" } ?? ""):\(l.port)\(procs.isEmpty ? "" : " (\(procs))")")
        } else {
            lines.append("listener: none")
        }
        lines.append("delivered: \(r.delivered ? "yes" : "no")")
        if !r.reasons.isEmpty { lines.append("undecidable: \(r.reasons.joined(separator: "; "))") }
        if r.path.isEmpty {
            lines.append("path: no base chain on the way")
        } else {
            lines.append("path:")
            for s in r.path { lines.append("  \(s.text)") }
        }
        for c in caveats { lines.append("warning: \(c)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
