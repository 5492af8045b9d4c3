// swift-tools-version: 6.0
import PackageDescription

// Dependencies are kept few on purpose: `trees exec` starts once per job, so
// the start-up path links only the system's libsqlite3, libarchive and
// libcrypto plus swift-argument-parser (which itself avoids full Foundation).
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "trees",
    products: [
        .executable(name: "trees", targets: ["trees"]),
        .library(name: "TreesCore", targets: ["TreesCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev", "zlib1g-dev"])]),
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .target(name: "CTreesShim"),
        .target(
            name: "TreesCore",
            dependencies: ["CSQLite", "CArchive", "CCrypto", "CTreesShim"],
            swiftSettings: strict),
        .target(
            name: "TreesCommands",
            dependencies: [
                "TreesCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "trees", dependencies: ["TreesCommands"], swiftSettings: strict),
        .testTarget(
            name: "TreesCoreTests", dependencies: ["TreesCore"], swiftSettings: strict),
        // README's Swift example, built with the package so that it cannot rot;
        // SupervisorExampleTests runs it.
        .executableTarget(
            name: "supervisor-example", dependencies: ["TreesCore"], path: "contrib/examples/supervisor",
            swiftSettings: strict),
        .testTarget(
            name: "TreesCLITests", dependencies: ["TreesCore", "trees", "supervisor-example"], swiftSettings: strict),
    ]
)
