/// Text from the host (process names, command lines, units, interface and namespace names) made safe for a terminal.
///
/// Any local user can rename a process (`prctl(PR_SET_NAME)`) to an escape sequence, a BEL or a newline and so colour,
/// break or forge rows of an administrator's text report. Every text renderer passes such strings through `escape`;
/// JSON and SARIF keep the exact string (their encoders escape it).
public enum TerminalText {
    /// `s` with control, format and other non-printable characters written as `\xNN` (below U+0100) or `\u{…}`, and
    /// a backslash as `\\`, so the escaped form cannot be mistaken for the plain one.
    public static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            if u == "\\" {
                out += "\\\\"
            } else if needsEscape(u) {
                let hex = String(u.value, radix: 16, uppercase: true)
                out += u.value < 0x100 ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{\(hex)}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        if u == "\\" { return true }
        if u.value < 0x20 || (0x7F...0x9F).contains(u.value) { return true }
        if u.value < 0x7F { return false }
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: return true
        default: return false
        }
    }
}
