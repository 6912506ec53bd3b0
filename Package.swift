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
            path: "Sources/Domain",
            swiftSettings: strictSettings
        ),
        .target(
            name: "Projections",
            dependencies: ["Journal", "Domain"],
            path: "Projections",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "registre",
            dependencies: [
                "Journal",
                "Domain",
                "Projections",
                "CZstd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/registre",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JournalTests",
            dependencies: ["Journal"],
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
            name: "EndToEndTests",
            dependencies: ["Journal"],
            path: "Tests/EndToEndTests",
            swiftSettings: strictSettings
        ),
    ]
)
