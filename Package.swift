// swift-tools-version:6.0
import PackageDescription

/// Settings shared by every Swift target: Swift 6 mode is the tools-version default; existential `any` is
/// spelled out so protocol costs stay visible.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

// portwarden reads Linux's netlink, /proc and nftables: it builds and runs on Linux only.
#if !os(Linux)
#error("portwarden supports Linux only")
#endif

let package = Package(
    name: "portwarden",
    products: [
        .executable(name: "portwarden", targets: ["portwarden"]),
        // For the fuzzer package in Fuzz/ only (`make fuzz`); not an API.
        .library(name: "FuzzEntries", targets: ["FuzzEntries"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // The only C in the project: libnftnl, libmnl and the linux uapi headers.
        .systemLibrary(
            name: "CNetfilter",
            path: "Sources/CNetfilter",
            pkgConfig: "libnftnl",
            providers: [.apt(["libnftnl-dev", "libmnl-dev"])]
        ),
        .target(name: "HostModel", swiftSettings: swiftSettings),
        .target(name: "Netlink", dependencies: ["CNetfilter", "HostModel"], swiftSettings: swiftSettings),
        .target(name: "Collector", dependencies: ["Netlink", "HostModel"], swiftSettings: swiftSettings),
        .target(name: "Evaluator", dependencies: ["HostModel"], swiftSettings: swiftSettings),
        // The file formats: snapshot, exposure report, findings report and trace lines, one writer and one reader each.
        .target(name: "Serialization", dependencies: ["HostModel", "Evaluator", "Checks", "Policy"], swiftSettings: swiftSettings),
        .target(name: "Policy", dependencies: ["HostModel", .product(name: "Yams", package: "Yams")], swiftSettings: swiftSettings),
        .target(name: "Checks", dependencies: ["HostModel", "Evaluator", "Policy"], swiftSettings: swiftSettings),
        .target(name: "Reporting", dependencies: ["Checks", "Evaluator", "Policy", "HostModel", "Serialization"], swiftSettings: swiftSettings),
        .target(name: "Diffing", dependencies: ["HostModel", "Evaluator", "Checks", "Policy", "Reporting", "Serialization"], swiftSettings: swiftSettings),
        // A candidate ruleset file: where each loaded rule came from (FILE:LINE), and fixes as edits of that file.
        .target(name: "RulesetSource", dependencies: ["HostModel", "Evaluator", "Checks", "Policy"], swiftSettings: swiftSettings),
        // `--ruleset FILE`: a candidate ruleset loaded by nft in a private network namespace and read back.
        .target(name: "CandidateLoader", dependencies: ["HostModel", "Netlink", "Policy", "RulesetSource"], swiftSettings: swiftSettings),
        // `reconcile`: an nmap XML scan against the evaluator's predictions (FoundationXML, so libxml2).
        .target(name: "Reconcile", dependencies: ["HostModel", "Evaluator"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "portwarden",
            dependencies: [
                "HostModel", "Collector", "Evaluator", "Policy", "Checks", "Reporting", "Diffing", "RulesetSource", "CandidateLoader", "Netlink",
                "Reconcile", "Serialization",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The parsers of untrusted input behind one entry each, for Fuzz/ and the corpus replay tests.
        .target(name: "FuzzEntries", dependencies: ["HostModel", "Netlink", "Evaluator", "Policy", "Checks", "Reporting", "Serialization"], swiftSettings: swiftSettings),
        // Helpers shared by test targets (never linked into the tool).
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "HostModelTests", dependencies: ["HostModel", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SerializationTests", dependencies: ["Serialization", "Evaluator", "HostModel", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "HostModel"], resources: [.copy("Captures")], swiftSettings: swiftSettings),
        .testTarget(name: "CollectorTests", dependencies: ["Collector", "Netlink", "HostModel"], swiftSettings: swiftSettings),
        .testTarget(name: "EvaluatorTests", dependencies: ["Evaluator", "Serialization", "HostModel", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "HostModel", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ChecksTests", dependencies: ["Checks", "Policy", "Evaluator", "HostModel", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "Serialization", "Checks", "Policy", "HostModel", "TestSupport", .product(name: "Yams", package: "Yams")], exclude: ["Goldens"], swiftSettings: swiftSettings),
        .testTarget(name: "RulesetSourceTests", dependencies: ["RulesetSource", "Checks", "Policy", "Evaluator", "HostModel"], swiftSettings: swiftSettings),
        .testTarget(name: "CandidateLoaderTests", dependencies: ["CandidateLoader", "HostModel"], swiftSettings: swiftSettings),
        .testTarget(name: "DiffingTests", dependencies: ["Diffing", "Serialization", "Reporting", "Checks", "Policy", "Evaluator", "HostModel", "TestSupport"], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "ReconcileTests", dependencies: ["Reconcile", "Evaluator", "HostModel"], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzEntries"], swiftSettings: swiftSettings),
        .testTarget(name: "IntegrationTests", dependencies: ["HostModel", "Serialization", "Evaluator", "Checks", "Collector", "Netlink", "TestSupport"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
    ]
)
