import Foundation
import Glibc

/// Where an `include` may point. Policies and candidate rulesets often come from pull requests: an include reaching
/// outside the reviewed tree (`/etc/shadow`, `../../secret`, a symlink) would let such a file read, and echo in
/// errors, any file on the host. Paths are compared after resolving symlinks and `..`.
public struct IncludeScope: Sendable, Equatable {
    /// Real paths of the directories includes may point into.
    public let roots: [String]

    /// The directory tree of `file` (the file named on the command line), widened by `allowed` directories
    /// (`--allow-include DIR`).
    public init(mainFile: String, allowed: [String] = []) {
        let dir = (Self.absolute(mainFile) as NSString).deletingLastPathComponent
        roots = ([dir] + allowed.map(Self.absolute)).map { Self.realPath($0) ?? Self.normalized($0) }
    }

    /// Whether `path` (absolute) resolves to a place under one of the roots; a path that does not exist is judged by
    /// its nearest existing ancestor, so a missing file outside the tree is refused too, not reported as missing.
    public func contains(_ path: String) -> Bool {
        let resolved = Self.resolve(Self.absolute(path))
        return roots.contains { root in root == "/" || resolved == root || resolved.hasPrefix(root + "/") }
    }

    /// The option and directories that widen the scope, for error messages.
    public static let widening = "--allow-include DIR"

    static func absolute(_ p: String) -> String {
        if p.hasPrefix("/") { return normalized(p) }
        return normalized((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(p))
    }

    /// `..` and `.` removed lexically (used only where no real path exists).
    static func normalized(_ p: String) -> String {
        var parts: [Substring] = []
        for c in p.split(separator: "/") {
            if c == "." { continue }
            if c == ".." { _ = parts.popLast(); continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// realpath(3), or nil when the path does not exist.
    static func realPath(_ p: String) -> String? {
        guard let r = Glibc.realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// The real path of `p`, or of its nearest existing ancestor with the rest appended.
    static func resolve(_ p: String) -> String {
        if let r = realPath(p) { return r }
        var head = p, tail: [String] = []
        while head != "/" && !head.isEmpty {
            tail.insert((head as NSString).lastPathComponent, at: 0)
            head = (head as NSString).deletingLastPathComponent
            if let r = realPath(head) { return normalized(r + "/" + tail.joined(separator: "/")) }
        }
        return normalized(p)
    }
}

extension IncludeScope {
    /// nft's error output without the source lines it quotes from files outside this scope: nft prints
    /// `FILE:LINE:COL-COL: Error: …` followed by the offending line and a marker line.
    public func filterNftErrors(_ text: String, dir: String) -> String {
        var keep = true
        var out: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let file = Self.locationFile(line) {
                let path = file.hasPrefix("/") ? String(file) : dir + "/" + file
                keep = contains(path)
                out.append(keep ? line : "(an error in a file outside the ruleset's directory tree; not shown)")
            } else if keep {
                out.append(line)
            }
        }
        return out.joined(separator: "\n")
    }

    /// The file of a `FILE:LINE:COL…: ` or `In file included from FILE:LINE:COL…:` line.
    static func locationFile(_ line: Substring) -> Substring? {
        var rest = line
        if rest.hasPrefix("In file included from ") { rest = rest.dropFirst("In file included from ".count) }
        let parts = rest.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, !parts[0].isEmpty, Int(parts[1]) != nil,
            parts[2].split(separator: "-").allSatisfy({ Int($0) != nil }), !parts[2].isEmpty
        else { return nil }
        return parts[0]
    }
}
