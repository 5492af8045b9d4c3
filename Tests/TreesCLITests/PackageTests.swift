import Foundation
import Testing

let havePackagingTools = ["/usr/bin/dpkg-deb", "/usr/bin/dpkg-shlibdeps", "/usr/bin/unshare", "/usr/bin/ldd"]
    .allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

@Suite("contrib/package-deb")
struct PackageTests {
    let repository = fixtures.deletingLastPathComponent().path

    /// The Swift toolchain's library directory (…/usr/lib), which the installed binary must not need.
    var toolchainLibrary: String? {
        let swift = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
            .map { "\($0)/swift" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/opt/swift/usr/bin/swift"
        let resolved = URL(fileURLWithPath: swift).resolvingSymlinksInPath()
        let lib = resolved.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lib").path
        return FileManager.default.fileExists(atPath: lib + "/swift/linux") ? lib : nil
    }

    @Test("builds trees_VERSION_ARCH.deb that lintian accepts and that runs with the toolchain's libraries hidden",
          .enabled(if: havePackagingTools && getuid() == 0, "needs dpkg-dev, util-linux and root (contrib/bootstrap installs them)"),
          .timeLimit(.minutes(40)))
    func packageBuildsInstallsAndRunsWithoutTheToolchain() throws {
        let s = try Scratch()
        let deb = try builtPackage.get()
        #expect(URL(fileURLWithPath: deb).lastPathComponent.range(of: #"^trees_[0-9][0-9A-Za-z.+~-]*_[a-z0-9]+\.deb$"#, options: .regularExpression) != nil, "\(deb)")

        let info = try run("/usr/bin/dpkg-deb", ["--info", deb]).stdout
        let depends = info.split(separator: "\n").first { $0.hasPrefix(" Depends:") }.map(String.init) ?? ""
        // libarchive13 is loaded with dlopen(3), so package-deb names it itself.
        for library in ["libc6", "libsqlite3-0", "libarchive13", "zlib1g"] { #expect(depends.contains(library), "\(depends)") }
        #expect(!depends.contains("libssl"), "\(depends)")
        #expect(!depends.lowercased().contains("swift"))
        let contents = try run("/usr/bin/dpkg-deb", ["--contents", deb]).stdout
        for path in ["./usr/bin/trees", "./usr/share/man/man1/trees.1.gz", "./usr/share/bash-completion/completions/trees",
                     "./usr/share/zsh/vendor-completions/_trees", "./usr/share/fish/vendor_completions.d/trees.fish",
                     "./lib/systemd/system/trees-gc.service", "./lib/systemd/system/trees-gc.timer",
                     "./lib/systemd/system/trees-metrics.service", "./lib/systemd/system/trees-metrics.timer",
                     "./usr/share/doc/trees/copyright",
                     "./usr/share/doc/trees/examples/trees-gc.service.d/operator.conf"] {
            #expect(contents.contains(path + "\n"), "\(path) missing from the package")
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/lintian") {
            let lint = try run("/usr/bin/lintian", ["--fail-on", "error", deb])
            #expect(lint.status == 0, "\(lint.stdout)\(lint.stderr)")
        }

        // Unpacked into a throwaway root: the units run the packaged path, and the binary needs no Swift library.
        let unpacked = s.path + "/unpacked"
        #expect(try run("/usr/bin/dpkg-deb", ["-x", deb, unpacked]).status == 0)
        let unit = try String(contentsOfFile: unpacked + "/lib/systemd/system/trees-gc.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/bin/trees gc"))
        let binary = unpacked + "/usr/bin/trees"
        let ldd = try run("/usr/bin/ldd", [binary]).stdout
        #expect(!ldd.contains("libswift") && !ldd.contains("Foundation") && !ldd.contains("not found"), "\(ldd)")
        let completion = try String(contentsOfFile: unpacked + "/usr/share/bash-completion/completions/trees", encoding: .utf8)
        #expect(completion.contains("metrics") && completion.contains("--root"))

        // With the toolchain's library directory covered by an empty tmpfs in a private mount namespace.
        let hide = toolchainLibrary.map { "mount -t tmpfs none '\($0)' && ! ls '\($0)'/swift >/dev/null 2>&1 && " } ?? ""
        let script = """
            set -e; \(hide)
            '\(binary)' --root '\(s.root)' install demo@r1 '\(fixtures.path)/trees/sample' --activate
            '\(binary)' --root '\(s.root)' list
            '\(binary)' --version
            """
        let r = try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("demo@r1") && r.stdout.contains("0.1.0"))
    }
}
