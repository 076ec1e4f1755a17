import ArgumentParser
import Foundation
import HostModel
import Serialization
import Collector

/// The documented exit codes. 64 (usage) comes from swift-argument-parser itself.
enum ExitStatus: Int32 {
    case clean = 0
    case findings = 1
    case invalidInput = 2
    case hostUnreadable = 3
    case internalError = 4

    static let documentation = """
        Exit codes:
          0   success (no finding at or above --fail-on)
          1   findings at or above --fail-on (reconcile: a port the scan and the prediction disagree on)
          2   invalid input: policy, snapshot, probe file, nmap XML or report
          3   the host could not be read (missing privilege, kernel error)
          4   internal error: a report could not be encoded (nothing is written; please report it)
          64  command-line usage error
        """
}

/// A failure that ends the command with a message on stderr and a documented exit code.
struct CommandFailure: Error, CustomStringConvertible {
    var status: ExitStatus
    var message: String
    var description: String { message }
}

/// Prints `failure` to stderr and converts it into the exit code; used by every command's `run()`.
func exitOnFailure<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as CommandFailure {
        FileHandle.standardError.write(Data("portwarden: \(failure.message)\n".utf8))
        throw ExitCode(failure.status.rawValue)
    } catch let error as SnapshotError {
        FileHandle.standardError.write(Data("portwarden: \(error)\n".utf8))
        throw ExitCode(ExitStatus.invalidInput.rawValue)
    } catch let error as CollectError {
        FileHandle.standardError.write(Data("portwarden: \(error)\n".utf8))
        throw ExitCode(ExitStatus.hostUnreadable.rawValue)
    } catch let error as ReportEncodingError {
        FileHandle.standardError.write(Data("portwarden: \(error)\n".utf8))
        throw ExitCode(ExitStatus.internalError.rawValue)
    }
}

/// `--snapshot FILE`: every command that reads the host can work offline from a saved snapshot instead.
struct HostSource: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read this saved snapshot instead of the live host.", valueName: "file"))
    var snapshot: String?

    @Flag(name: .long, help: "Continue with a partial view when the firewall cannot be read (it is reported as unreadable).")
    var allowPartial = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Which other network namespaces to read: all (default: every container, pod and named namespace), host (this namespace alone), or names under /run/netns, comma-separated.",
            valueName: "all|host|NAME,…"))
    var netns: NetnsChoice = .init(selection: .all)

    /// The snapshot to work on: loaded from `--snapshot`, or collected live.
    /// - Parameter firewall: whether a live collection reads the ruleset (and routing); views that only list
    ///   sockets pass false, so they need no CAP_NET_ADMIN and do not pay for a large ruleset.
    func load(firewall: Bool = true) throws -> Snapshot {
        if let path = snapshot {
            return netns.narrow(try SnapshotCodec.load(path: path))
        }
        return try Collector.collect(
            CollectOptions(
                allowPartial: allowPartial, toolVersion: toolVersion,
                readFirewall: firewall, readRouting: firewall, namespaces: netns.selection))
    }
}

/// `--netns all|host|NAME,…`: which of the host's other network namespaces a command reads.
struct NetnsChoice: ExpressibleByArgument, Sendable {
    var selection: NamespaceSelection

    init(selection: NamespaceSelection) { self.selection = selection }

    init?(argument: String) {
        switch argument {
        case "all": selection = .all
        case "host": selection = .hostOnly
        default:
            let names = argument.split(separator: ",").map { String($0) }
            guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty && !$0.contains("/") && $0 != "." && $0 != ".." }) else { return nil }
            selection = .named(names)
        }
    }

    var defaultValueDescription: String { "all" }

    /// The same choice applied to a saved snapshot: namespaces not selected are dropped.
    func narrow(_ s: Snapshot) -> Snapshot {
        var s = s
        switch selection {
        case .all: break
        case .hostOnly: s.namespaces = []
        case .named(let names): s.namespaces = s.namespaces.filter { $0.id.name.map(names.contains) ?? false }
        }
        return s
    }
}

/// Output format for commands that print a host view.
enum ViewFormat: String, CaseInsensitiveArgument {
    case text, json
}

/// The collector's warnings, one per line on stderr, so they never mix with machine-readable stdout.
func printWarnings(_ warnings: [String]) {
    guard !warnings.isEmpty else { return }
    FileHandle.standardError.write(Data(warnings.map { "warning: \($0)\n" }.joined().utf8))
}
