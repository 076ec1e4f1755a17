// swift-tools-version:6.0
import PackageDescription

/// The libFuzzer binaries, one per `FuzzTarget` (`make fuzz`; Fuzz/README.md). A package of its own so that the
/// sanitizer flags apply to this build only, never to the tool or the tests. Each binary's main starts libFuzzer
/// with `LLVMFuzzerRunDriver` (SwiftPM gives every executable a main of its own, so libFuzzer's cannot be used).
let package = Package(
    name: "portwarden-fuzz",
    dependencies: [.package(name: "portwarden", path: "..")],
    targets: [
        .target(name: "CLibFuzzer"),
        .target(name: "FuzzDriver", dependencies: ["CLibFuzzer", .product(name: "FuzzEntries", package: "portwarden")]),
        .executableTarget(name: "fuzz-nftables", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "fuzz-sockdiag", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "fuzz-rtnetlink", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "fuzz-policy", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "fuzz-snapshot", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "fuzz-probe", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "fuzz-report", dependencies: ["FuzzDriver"])
    ]
)
