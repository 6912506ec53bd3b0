// swift-tools-version: 6.1
import PackageDescription

/// One list of settings for every Swift target, so the whole package is held to the same rules.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Registre",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "registre", targets: ["registre"]),
        .library(name: "Journal", targets: ["Journal"]),
        .library(name: "Domain", targets: ["Domain"]),
        .library(name: "Projections", targets: ["Projections"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // libzstd from the system, found through pkg-config.
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // Hardware CRC32C (SSE 4.2) with a portable fallback; Swift has no intrinsic for it.
        .target(
            name: "CJournalSupport",
            path: "Sources/CJournalSupport"
        ),
        // SO_PEERCRED needs _GNU_SOURCE, which Glibc's module map does not define.
        .target(
            name: "CPeerCredentials",
            path: "Sources/CPeerCredentials",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .target(
            name: "Journal",
            dependencies: [
                "CZstd",
                "CJournalSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Journal",
            exclude: ["FORMAT.md"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Domain",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            path: "Sources/Domain",
            swiftSettings: strictSettings
        ),
        .target(
            name: "Projections",
            dependencies: [
                "Journal",
                "Domain",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Projections",
            swiftSettings: strictSettings
        ),
        .target(
            name: "Simulator",
            dependencies: ["Journal", "Domain", "Projections"],
            path: "Sources/Simulator",
            swiftSettings: strictSettings
        ),
        .target(
            name: "Audit",
            dependencies: [
                "Journal",
                "Domain",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Audit",
            swiftSettings: strictSettings
        ),
        .target(
            name: "Server",
            dependencies: [
                "Journal",
                "Domain",
                "Projections",
                "CPeerCredentials",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Server",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "registre",
            dependencies: [
                "Journal",
                "Domain",
                "Projections",
                "Simulator",
                "Audit",
                "Server",
                "CZstd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/registre",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JournalTests",
            dependencies: ["Journal", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/JournalTests",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DomainTests",
            dependencies: [
                "Domain",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/DomainTests",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ProjectionsTests",
            dependencies: ["Projections", "Journal", "Domain"],
            path: "Tests/ProjectionsTests",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SimulatorTests",
            dependencies: ["Simulator", "Journal", "Domain", "Projections"],
            path: "Tests/SimulatorTests",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AuditTests",
            dependencies: ["Audit", "Journal", "Domain"],
            path: "Tests/AuditTests",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: ["Server", "Journal", "Domain", .product(name: "NIOEmbedded", package: "swift-nio")],
            path: "Tests/ServerTests",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Journal"],
            path: "Tests/EndToEndTests",
            swiftSettings: strictSettings
        ),
    ]
)
