import Evaluator
import Serialization
import Testing

/// `ProbeLine.parse` on JSON escapes (the CLI tests pin its error messages): every escape JSON defines decodes to its
/// character. `\b` and `\f` once read as the letters `b` and `f` (found by `make fuzz-probe`).
@Suite struct ProbeLineTests {
    static func parse(_ line: String) throws(ProbeLineError) -> Probe {
        var bytes = Array(line.utf8)
        return try bytes.withUnsafeMutableBufferPointer { (b) throws(ProbeLineError) -> Probe in
            try ProbeLine.parse(UnsafeBufferPointer(b)).probe
        }
    }

    @Test func everyJSONEscapeDecodesToItsCharacter() throws {
        let probe = try Self.parse(#"{"proto":"tcp","src":"192.0.2.1","dst":"192.0.2.10","dport":22,"iif":"a\b\f\n\r\t\"\\\/\u0041z"}"#)
        #expect(probe.iif == "a\u{08}\u{0c}\n\r\t\"\\/Az")
    }

    @Test func escapedBackspaceIsNotTheLetterB() throws {
        let probe = try Self.parse(#"{"proto":"udp","src":"192.0.2.1","dst":"192.0.2.10","dport":53,"iif":"\b"}"#)
        #expect(probe.iif != "b")
        #expect(Array(probe.iif.utf8) == [0x08])
    }
}
