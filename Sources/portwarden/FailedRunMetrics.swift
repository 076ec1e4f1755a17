import ArgumentParser
import Foundation
import Collector
import Reporting

/// The hostname a run got as far as reading: set inside the run, read by its failure handler (a reference, so both
/// closures see one value).
final class HostSeen {
    var name: String?
}

/// `exitOnFailure`, also handing the exit status of a failed run to `onFailure` before it ends the command.
func exitOnFailure<T>(reportingFailure onFailure: (Int32) -> Void, _ body: () throws -> T) throws -> T {
    do {
        return try exitOnFailure(body)
    } catch let exit as ExitCode {
        onFailure(exit.rawValue)
        throw exit
    }
}

extension Audit {
    /// With `--format prometheus`, a run that fails (invalid input, exit 2; host unreadable, exit 3) still replaces the
    /// metrics file, with `portwarden_last_run_success 0` and the time, so monitoring sees the failure instead of the
    /// last good counts going stale. The host label is the snapshot's hostname when it was read, this machine's for a
    /// live run, else `unknown`. A second failure to write is not reported again: the first error is already printed.
    func write(failedRun status: Int32, host: HostSeen) {
        guard format == .prometheus,
            status == ExitStatus.invalidInput.rawValue || status == ExitStatus.hostUnreadable.rawValue
        else { return }
        let name = host.name ?? (source.snapshot == nil ? HostFiles.hostname() : "unknown")
        try? emit(PrometheusReporter.failedRun(host: name, at: Date()), to: output)
    }
}
