import ArgumentParser
import Evaluator
import Foundation
import HostModel
import Reconcile

/// `portwarden reconcile`: an outside view (an nmap scan of this host) against what portwarden predicts for it.
struct ReconcileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare an nmap XML scan of this host with what portwarden predicts for the scanner.",
        discussion: """
            Every scanned port is traced from --from on --iif, as `trace` does,
            and the prediction mapped to what nmap can see:
              delivered to a socket          open
              accepted, no socket            closed (RST / ICMP port unreachable)
              drop                           filtered
              reject with tcp reset          closed
              reject, ICMP port unreachable  closed (UDP, -sT) or filtered (-sS)
              reject, other ICMP error       filtered
              conditional                    either (listed, never a mismatch)
            nmap's open|filtered and closed|filtered agree with both their
            states. Supported scans: -sT, -sS, -sU, saved with nmap -oX.
              portwarden reconcile --snapshot host.json --nmap scan.xml \\
                --from 198.51.100.7 --iif eth0
            Exit codes: 0 every port agrees; 1 a mismatch; 2 XML that is not a
            supported nmap report (file:line:column), a scanned address that is
            not this host's, an --iif the host does not have, or a bad
            snapshot; 3 the host could not be read; 64 usage.
            """
    )

    @OptionGroup var source: HostSource
    @OptionGroup var destination: OutputFile

    @Option(name: .long, help: ArgumentHelp("The nmap XML report (nmap -oX FILE), or - for stdin.", valueName: "file"))
    var nmap: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The scanner's source address as this host sees it (nmap does not record it).",
            valueName: "address"))
    var from: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The interface the scan arrived on; default: the one non-loopback interface holding the scanned address.",
            valueName: "if"))
    var iif: String?

    @Option(name: .long, help: "Output format: text or json.") var format: ViewFormat = .text

    func validate() throws {
        if nmap == "-" && source.snapshot == "-" {
            throw ValidationError("--nmap - and --snapshot - cannot both read standard input")
        }
    }

    /// The report's name in messages (`<stdin>` for -, as `trace` names its probes).
    private var scanName: String { nmap == "-" ? "<stdin>" : nmap }

    func run() throws {
        let mismatched: Bool = try exitOnFailure {
            let scan = try readScan()
            let snapshot = try source.load()
            let evaluator = Evaluator(snapshot: snapshot)
            let result: Reconciliation
            do {
                result = try Reconciler.run(scan: scan, snapshot: snapshot, evaluator: evaluator, from: from, iif: iif)
            } catch let error as ReconcileError {
                switch error {
                case .usage(let m): throw ValidationError(m)
                case .input(let m): throw CommandFailure(status: .invalidInput, message: m.hasPrefix("--") ? m : "\(scanName): \(m)")
                }
            }
            let report = ReconcileReport(result: result, scanFile: scanName, from: from, caveats: evaluator.caveats)
            switch format {
            case .text: try emit(report.text(), to: destination.output)
            case .json: try emit(try report.json(), to: destination.output)
            }
            return !result.mismatches.isEmpty
        }
        if mismatched { throw ExitCode(ExitStatus.findings.rawValue) }
    }

    private func readScan() throws -> NmapScan {
        let data: Data
        if nmap == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            do { data = try Data(contentsOf: URL(fileURLWithPath: nmap)) } catch {
                throw CommandFailure(status: .invalidInput, message: "cannot read \(nmap): \(error.localizedDescription)")
            }
        }
        do { return try NmapXML.parse(data, file: scanName) } catch {
            throw CommandFailure(status: .invalidInput, message: error.description)
        }
    }
}
