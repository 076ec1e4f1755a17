import Foundation
#if canImport(Testing)
    import Testing
#endif

/// The repository's top directory (this file is Tests/TestSupport/Goldens.swift).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Whether this run rewrites golden files (`RECORD_GOLDENS=1 swift test …`) instead of comparing with them.
public var recordingGoldens: Bool { ProcessInfo.processInfo.environment["RECORD_GOLDENS"] == "1" }

#if canImport(Testing)
    /// Compares `text` with the golden file at `url`. With RECORD_GOLDENS=1, or when the file is missing, writes it
    /// instead; a missing file is also a failed expectation, so a new golden is never accepted unseen.
    public func expectGolden(_ text: String, at url: URL, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let name = url.lastPathComponent
        if recordingGoldens || !FileManager.default.fileExists(atPath: url.path) {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
            #expect(recordingGoldens, "recorded missing golden \(name); run again", sourceLocation: sourceLocation)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "\(name) differs (RECORD_GOLDENS=1 swift test … rewrites it; review the diff)", sourceLocation: sourceLocation)
    }
#endif
