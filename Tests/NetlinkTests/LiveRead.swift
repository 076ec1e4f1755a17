import Foundation
import HostModel
import Netlink
import Testing

/// The bridge that lets the integration tests run the real reader inside a test namespace.
///
/// setns() is per thread, so the integration tests cannot call the reader in-process inside another namespace.
/// Instead they run this test binary under `ip netns exec <ns> env PORTWARDEN_LIVE_NETNS=1 …`; this test reads the
/// namespace's ruleset `PORTWARDEN_LIVE_READS` times (default 1) with `PORTWARDEN_LIVE_STRATEGY` (`perChain` or
/// `whole`) on `PORTWARDEN_LIVE_WORKERS` sockets (default 1) and writes a `LiveReport` as JSON to `PORTWARDEN_LIVE_OUTPUT`, including a failure's errno. Without
/// the variable it is skipped (it is not a test of its own). Captures/record.sh uses it too.
@Suite struct LiveRead {
    struct ReadResult: Codable {
        var generation: UInt32
        var attempts: Int
        var tables: [Table]
        /// Wall time of this read alone (without the JSON written here), for rough performance checks.
        var seconds: Double
    }

    struct LiveReport: Codable {
        /// GETGEN before the first and after the last read.
        var generationBefore: UInt32?
        var generationAfter: UInt32?
        var reads: [ReadResult] = []
        var error: String?
        var errno: Int32?
    }

    @Test(
        .enabled(
            if: Foundation.ProcessInfo.processInfo.environment["PORTWARDEN_LIVE_NETNS"] == "1",
            "only run inside a test namespace by the integration tests"))
    func readIntoFile() throws {
        let env = Foundation.ProcessInfo.processInfo.environment
        let path = try #require(env["PORTWARDEN_LIVE_OUTPUT"], "PORTWARDEN_LIVE_OUTPUT must name the output file")
        let strategy: RuleDumpStrategy = env["PORTWARDEN_LIVE_STRATEGY"] == "whole" ? .whole : .perChain
        let count = Int(env["PORTWARDEN_LIVE_READS"] ?? "1") ?? 1
        let maxAttempts = Int(env["PORTWARDEN_LIVE_MAX_ATTEMPTS"] ?? "5") ?? 5
        let workers = Int(env["PORTWARDEN_LIVE_WORKERS"] ?? "1") ?? 1
        var report = LiveReport()
        do {
            report.generationBefore = try NftablesReader.generation()
            for _ in 0..<count {
                let clock = ContinuousClock()
                let start = clock.now
                let read = try NftablesReader.read(maxAttempts: maxAttempts, rules: strategy, workers: workers)
                let elapsed = (clock.now - start).components
                let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                report.reads.append(ReadResult(generation: read.generation, attempts: read.attempts, tables: read.tables, seconds: seconds))
            }
            report.generationAfter = try NftablesReader.generation()
        } catch let error as NetlinkError {
            report.error = error.description
            report.errno = error.kernelErrno
        }
        try JSONEncoder().encode(report).write(to: URL(fileURLWithPath: path))
    }
}
