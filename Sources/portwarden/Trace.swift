import ArgumentParser
import Evaluator
import Foundation
import HostModel

/// `portwarden trace`: what the kernel does with one new connection, or with a batch of them (JSON lines).
struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Follow new connections through the firewall to the socket that would receive them.",
        discussion: """
            One probe from flags (printed as text, or JSON with --format json):
              portwarden trace --snapshot host.json --proto tcp --src 203.0.113.9 --dst 192.0.2.1 --dport 5432 --iif eth0
            A batch from JSON lines (a file, or - for stdin), one JSON line out per probe:
              {"proto":"tcp","src":"198.51.100.7","dst":"192.0.2.1","dport":22,"iif":"eth0"}   (optional "sport")
            --iif lo means the host talks to itself. Output adds verdict (accept|drop|reject|conditional), path,
            listener ({proto,address,port,device,processes} or null) and delivered.
            A bad probe line ends the command with exit code 2 as FILE:LINE:COLUMN (<stdin> for -); so does an
            interface the snapshot does not have.
            """
    )

    @OptionGroup var source: HostSource
    @OptionGroup var candidate: CandidateRuleset
    @OptionGroup var destination: OutputFile

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
            try checkInterface(probe.iif, ev, column: 0)
            result = try ev.trace(probe)
        } catch let e as ProbeLineError {
            throw CommandFailure(status: .invalidInput, message: "--iif: \(e.message)")
        } catch {
            throw CommandFailure(status: .invalidInput, message: "\(error)")
        }
        var out = ""
        switch format {
        case .json:
            var w = JSONLineWriter()
            w.write(probe: probe, result: result)
            out = String(decoding: w.bytes, as: UTF8.self)
        case .text:
            out = TraceText.render(probe: probe, result: result, caveats: ev.caveats)
        }
        try emit(out, to: destination.output)
    }

    /// Probe input is read whole before tracing (a million probes is about 100 MB); beyond 256 MiB it is refused, not buffered.
    static let maxProbeBytes = 1 << 28

    private func runBatch(_ ev: Evaluator, path: String) throws {
        let data: Data
        do {
            data =
                path == "-"
                ? try BoundedFile.readStandardInput(limit: Trace.maxProbeBytes)
                : try BoundedFile.readStreamOrFile(path, limit: Trace.maxProbeBytes)
        } catch {
            throw CommandFailure(status: .invalidInput, message: "cannot read probes \(path == "-" ? "<stdin>" : path): \(error)")
        }
        let shown = path == "-" ? "<stdin>" : path
        var failure: CommandFailure?
        // Results go out in ~1 MiB chunks through the shared output path; a bad line stops the batch after the
        // results of the lines before it.
        try writeOutput(to: destination.output, what: "the results") { (sink) throws(WriteFailure) in
            var writer = JSONLineWriter(capacity: (1 << 20) + (1 << 16))
            var written: WriteFailure?
            var lineNumber = 0
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
                    do throws(ProbeLineError) {
                        let parsed = try ProbeLine.parse(line)
                        try checkInterface(parsed.probe.iif, ev, column: parsed.iifColumn)
                        let r: TraceResult
                        do throws(ProbeError) { r = try ev.trace(parsed.probe) } catch { throw parsed.located(error) }
                        writer.write(probe: parsed.probe, result: r)
                    } catch {
                        failure = CommandFailure(status: .invalidInput, message: "\(shown):\(lineNumber):\(error.column): \(error.message)")
                        return
                    }
                    if writer.count >= 1 << 20 {
                        do throws(WriteFailure) { try sink(writer.bytes) } catch { written = error; return }
                        writer.removeAll()
                    }
                }
            }
            if let written { throw written }
            // A bad line: stdout has the results before it, but a file is not replaced by a partial one.
            if failure != nil && destination.output != nil { throw WriteFailure.abandoned }
            try sink(writer.bytes)
        }
        if let failure { throw failure }
    }
    /// A probe must arrive on an interface the host has (or `lo`): the kernel never sees a packet on a device that does
    /// not exist, so tracing one would answer a question nobody can ask.
    private func checkInterface(_ name: String, _ ev: Evaluator, column: Int) throws(ProbeLineError) {
        guard !ev.hasInterface(named: name) else { return }
        let known = ev.interfaceNames.map { "'\(TerminalText.escape($0))'" }.joined(separator: ", ")
        throw ProbeLineError(message: "no interface '\(TerminalText.escape(name))' in the snapshot (it has \(known))", column: column)
    }
}

/// Writes trace results as JSON lines into a `ByteBuffer`: each append is one capacity check and a copy, with no
/// String interpolation, copy-on-write or uniqueness checks (batch output is ~430 bytes a probe, 100k probes at a
/// time). Noncopyable because the buffer is.
struct JSONLineWriter: ~Copyable {
    private var buffer: ByteBuffer

    init(capacity: Int = 4096) { buffer = ByteBuffer(capacity: capacity) }

    /// The bytes written so far; valid until the next write.
    var bytes: UnsafeBufferPointer<UInt8> { buffer.bytes }
    var count: Int { buffer.count }

    mutating func removeAll() { buffer.removeAll() }

    @inline(__always) mutating func byte(_ b: UInt8) { buffer.append(b) }

    @inline(__always) mutating func append(_ p: UnsafeBufferPointer<UInt8>) { buffer.append(contentsOf: p) }

    /// Literal JSON text (keys and punctuation).
    @inline(__always) mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { append($0) }
    }

    /// An integer in decimal, as `"\(v)"` prints it.
    mutating func int<T: BinaryInteger>(_ v: T) {
        if v < 0 { byte(0x2d) }
        buffer.appendDecimal(UInt64(v.magnitude))
    }

    mutating func bool(_ v: Bool) { if v { raw("true") } else { raw("false") } }

    /// A JSON string: runs of plain bytes are copied whole; `"`, `\\` and control characters are escaped.
    mutating func string(_ s: String) {
        byte(0x22)
        if s.utf8.withContiguousStorageIfAvailable({ escaped($0) }) == nil {
            Array(s.utf8).withUnsafeBufferPointer { escaped($0) }
        }
        byte(0x22)
    }

    private mutating func escaped(_ b: UnsafeBufferPointer<UInt8>) {
        var run = 0
        for k in 0..<b.count {
            let c = b[k]
            if c >= 0x20 && c != 0x22 && c != 0x5c { continue }
            if k > run { append(UnsafeBufferPointer(rebasing: b[run..<k])) }
            run = k + 1
            switch c {
            case 0x22: raw("\\\"")
            case 0x5c: raw("\\\\")
            case 0x0a: raw("\\n")
            case 0x0d: raw("\\r")
            case 0x09: raw("\\t")
            default:
                let hex: StaticString = "0123456789abcdef"
                raw("\\u00")
                hex.withUTF8Buffer { h in
                    byte(h[Int(c >> 4)])
                    byte(h[Int(c & 0xf)])
                }
            }
        }
        if run < b.count { append(UnsafeBufferPointer(rebasing: b[run..<b.count])) }
    }

    /// One path step; taken from the array in place (a `for` loop would copy each step and its five strings).
    private mutating func step(_ s: PathStep) {
        raw("{\"table\":"); string(s.table)
        raw(",\"family\":"); string(s.family.description)
        raw(",\"chain\":"); string(s.chain)
        raw(",\"hook\":"); string(s.hookText)
        raw(",\"priority\":"); int(s.priority)
        raw(",\"handle\":")
        if let h = s.handle { int(h) } else { raw("null") }
        raw(",\"action\":"); string(s.action.description)
        raw("}")
    }

    mutating func write(probe p: Probe, result r: TraceResult) {
        raw("{\"proto\":"); string(p.proto.rawValue)
        raw(",\"src\":"); string(p.src)
        raw(",\"dst\":"); string(p.dst)
        if let s = p.sport { raw(",\"sport\":"); int(s) }
        raw(",\"dport\":"); int(p.dport)
        raw(",\"iif\":"); string(p.iif)
        raw(",\"verdict\":"); string(r.verdict.rawValue)
        raw(",\"path\":[")
        for i in r.path.indices {
            if i > 0 { raw(",") }
            step(r.path[i])
        }
        raw("],\"listener\":")
        if let l = r.listener {
            raw("{\"proto\":"); string(l.proto.rawValue)
            raw(",\"address\":"); string(l.address)
            raw(",\"port\":"); int(l.port)
            raw(",\"device\":")
            if let d = l.device { string(d) } else { raw("null") }
            raw(",\"processes\":[")
            for i in l.processes.indices {
                if i > 0 { raw(",") }
                raw("{\"pid\":"); int(l.processes[i].pid)
                raw(",\"name\":"); string(l.processes[i].name); raw("}")
            }
            raw("]")
            if let n = l.namespace { raw(",\"namespace\":"); string(n) }
            if let b = l.bind { raw(",\"bind\":"); string(b) }
            raw("}")
        } else {
            raw("null")
        }
        raw(",\"delivered\":"); bool(r.delivered)
        raw(",\"forwarded\":"); bool(r.forwarded)
        if let t = r.translatedTo { raw(",\"translatedTo\":"); string(t) }
        if let d = r.dnat { raw(",\"dnat\":{\"address\":"); string(d.address); raw(",\"port\":"); int(d.port); raw("}") }
        if let limits = r.limits {
            raw(",\"limits\":[")
            for (i, l) in limits.enumerated() { if i > 0 { byte(0x2c) }; string(l) }
            byte(0x5d)
        }
        if !r.reasons.isEmpty {
            raw(",\"reasons\":[")
            for i in r.reasons.indices { if i > 0 { raw(",") }; string(r.reasons[i]) }
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
        if r.forwarded { outcome += r.listener?.namespace != nil ? " (forwarded into another namespace)" : " (forwarded, not delivered locally)" }
        lines.append(outcome)
        if let t = r.translatedTo { lines.append("translated to: \(t)") }
        if let l = r.listener {
            let procs = l.processes.map { "\(TerminalText.escape($0.name))[\($0.pid)]" }.joined(separator: ", ")
            let host = l.address.contains(":") ? "[\(l.address)]" : l.address
            let bind = l.bind.map { " bound to \($0.contains(":") ? "[\($0)]" : $0)" } ?? ""
            let ns = l.namespace.map { " in \($0)" } ?? ""
            lines.append(
                "listener: \(l.proto.rawValue) \(host)\(l.device.map { "%\($0)" } ?? ""):\(l.port)\(procs.isEmpty ? "" : " (\(procs))")\(bind)\(ns)")
        } else {
            lines.append("listener: none")
        }
        lines.append("delivered: \(r.delivered ? "yes" : "no")")
        if !r.reasons.isEmpty { lines.append("undecidable: \(r.reasons.joined(separator: "; "))") }
        if let limits = r.limits { lines.append("rate-limited: \(limits.joined(separator: "; ")) (slows a flood; does not choose who connects)") }
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
