import HostModel
import Testing

@Suite struct TerminalTextTests {
    @Test(arguments: [
        ("sshd", "sshd"),
        ("nginx: worker", "nginx: worker"),
        ("\u{1B}[31mred", #"\x1B[31mred"#),
        ("bell\u{07}", #"bell\x07"#),
        ("two\nlines\r", #"two\x0Alines\x0D"#),
        ("tab\there", #"tab\x09here"#),
        (#"back\slash"#, #"back\\slash"#),
        ("del\u{7F}", #"del\x7F"#),
        ("c1\u{9B}", #"c1\x9B"#),
        ("rtl\u{202E}gpj.exe", #"rtl\u{202E}gpj.exe"#),
        ("zw\u{200B}sp", #"zw\u{200B}sp"#),
        ("bom\u{FEFF}", #"bom\u{FEFF}"#),
        ("straße 名前", "straße 名前")
    ])
    func escapes(input: String, expected: String) {
        #expect(TerminalText.escape(input) == expected)
    }

    @Test func escapedTextHasNoControlCharacters() {
        var all = ""
        for v in 0..<0x250 { if let u = Unicode.Scalar(v) { all.unicodeScalars.append(u) } }
        let e = TerminalText.escape(all)
        #expect(!e.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
    }
}
