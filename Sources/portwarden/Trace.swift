import ArgumentParser
import Evaluator
import Foundation
import HostModel
import Serialization

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
            var w = TraceLineWriter()
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
            var writer = TraceLineWriter(capacity: (1 << 20) + (1 << 16))
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
