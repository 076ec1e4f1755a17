import Checks
import Evaluator
import Foundation
import HostModel
import Serialization
import Policy
import Reporting

/// The readers of text users hand to portwarden: policies, probe lines and baseline reports.
enum TextEntries {
    /// Where the fuzzed policy claims to live: a directory that does not exist, so an `include:` in the input never
    /// reads a real file (it is refused as unreadable), and results do not depend on the working directory.
    static let policyFile = "/nonexistent/portwarden-fuzz/policy.yaml"

    /// A policy is accepted or refused with a place to fix (line and column from 1).
    static func policy(_ input: UnsafeRawBufferPointer) throws(FuzzContractViolation) -> FuzzOutcome {
        let text = String(decoding: input, as: UTF8.self)
        do throws(PolicyError) {
            let policy = try PolicyLoader.parse(text, file: policyFile, hostname: "fuzz-host")
            try CheckNames.validate(policy)
            return .accepted
        } catch {
            let at = error.location
            guard at.line >= 1, at.column >= 1 else { throw FuzzContractViolation("policy error without a place: \(error)") }
            return .rejected
        }
    }

    /// A probe line is parsed or refused at a column inside the line (or just after it); a parsed probe written
    /// back as JSON parses to the same probe.
    static func probe(_ input: UnsafeRawBufferPointer) throws(FuzzContractViolation) -> FuzzOutcome {
        let bytes = input.bindMemory(to: UInt8.self)
        let parsed: ParsedProbe
        do throws(ProbeLineError) { parsed = try ProbeLine.parse(bytes) } catch {
            guard error.column >= 1, error.column <= bytes.count + 1 else {
                throw FuzzContractViolation("probe error at column \(error.column) of a \(bytes.count)-byte line: \(error.message)")
            }
            return .rejected
        }
        for column in [parsed.srcColumn, parsed.dstColumn, parsed.iifColumn] where column < 1 || column > bytes.count {
            throw FuzzContractViolation("a parsed probe names column \(column) of a \(bytes.count)-byte line")
        }
        try probeRoundTrip(parsed.probe)
        for text in [parsed.probe.src, parsed.probe.dst] {
            if let address = IPAddress(text), IPAddress(address.description) != address {
                throw FuzzContractViolation("address \(text) prints as \(address), which reads back differently")
            }
        }
        return .accepted
    }

    static func probeRoundTrip(_ probe: Probe) throws(FuzzContractViolation) {
        let line: Data
        do { line = try JSONEncoder().encode(probe) } catch { throw FuzzContractViolation("probe does not encode: \(error)") }
        let again = line.withUnsafeBytes { raw in Result { () throws(ProbeLineError) in try ProbeLine.parse(raw.bindMemory(to: UInt8.self)) } }
        guard case .success(let reparsed) = again, reparsed.probe == probe else {
            throw FuzzContractViolation("probe \(String(decoding: line, as: UTF8.self)) does not read back as itself: \(again)")
        }
    }

    /// A baseline report gives its findings or `FindingsJSON.ReadError`; the findings it gives encode and decode unchanged.
    static func report(_ input: UnsafeRawBufferPointer) throws(FuzzContractViolation) -> FuzzOutcome {
        let findings: [Finding]
        do { findings = try FindingsJSON.findings(fromReport: Data(input)) } catch { return .rejected }
        do {
            let again = try JSONDecoder().decode([Finding].self, from: JSONEncoder().encode(findings))
            guard again == findings else { throw FuzzContractViolation("baseline findings change when encoded and decoded again") }
        } catch let violation as FuzzContractViolation {
            throw violation
        } catch {
            throw FuzzContractViolation("baseline findings do not encode and decode again: \(error)")
        }
        return .accepted
    }
}
