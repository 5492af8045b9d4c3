// swift-tools-version: 6.0
import PackageDescription

// Dependencies are kept few on purpose: `trees exec` starts once per job, so
// the binary links only the system's libsqlite3 plus swift-argument-parser
// (which itself avoids full Foundation). libarchive is loaded with dlopen by
// `install` alone (Sources/CTreesShim/archive_loader.c: its headers are needed
// to build, its library only to install an archive); SHA-256 is in the shim.
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
        // No pkgConfig: its link flags would link libarchive into every process.
        .systemLibrary(
            name: "CArchive",
            providers: [.apt(["libarchive-dev", "zlib1g-dev"])]),
        .target(name: "CTreesShim"),
        .target(
            name: "TreesCore",
            dependencies: ["CSQLite", "CArchive", "CTreesShim"],
            swiftSettings: strict),
        .target(
            name: "TreesCommands",
            dependencies: [
                "TreesCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // No linker flags here: the binary the Debian package ships links the
        // Swift runtime in (`trees exec` runs once per job, and loading a dozen
        // shared Swift libraries was half its start-up), but that is the
        // packaging's choice, made on its command line:
        // `swift build -c release --static-swift-stdlib` (contrib/package-deb,
        // trees-bench). A package depending on TreesCore gets no unsafe flags.
        .executableTarget(
            name: "trees", dependencies: ["TreesCommands"], swiftSettings: strict),
        // The benchmark (contrib/bench/README.md): `swift run -c release trees-bench`.
        // It times the trees binary as a process and links none of it.
        .executableTarget(
            name: "trees-bench", path: "contrib/bench/Sources/trees-bench", swiftSettings: strict),
        .target(name: "TreesTestSupport", path: "Tests/TreesTestSupport", swiftSettings: strict),
        .testTarget(
            name: "TreesCoreTests", dependencies: ["TreesCore", "TreesTestSupport"], swiftSettings: strict),
        // README's Swift example, built with the package so that it cannot rot;
        // SupervisorExampleTests runs it.
        .executableTarget(
            name: "supervisor-example", dependencies: ["TreesCore"], path: "contrib/examples/supervisor",
            swiftSettings: strict),
        .testTarget(
            name: "TreesCLITests", dependencies: ["TreesCore", "TreesTestSupport", "trees", "supervisor-example", "trees-bench"], swiftSettings: strict),
    ]
)
