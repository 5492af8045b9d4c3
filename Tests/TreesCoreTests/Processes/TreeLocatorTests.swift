#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TreesCore

@Suite struct TreeLocatorTests {
    /// Directories map to their tree by identity, however the path is spelled.
    @Test func directoriesWalkUpToTheirTreeTop() throws {
        var template = Array("/tmp/trees-locator-XXXXXX".utf8CString)
        let base = try #require(mkdtemp(&template).map { String(cString: $0) }.flatMap(canonicalPath))
        let root = base + "/root"
        let dirs = [root, root + "/app", root + "/app/r1", root + "/app/r1/lib", root + "/app/r1/lib/deep",
                    root + "/app/r2", base + "/outside"]
        for dir in dirs { #expect(mkdir(dir, 0o755) == 0) }
        #expect(symlink("root", base + "/link") == 0)
        #expect(symlink("r1", root + "/app/current") == 0)
        defer {
            unlink(root + "/app/current")
            unlink(base + "/link")
            for dir in dirs.reversed() { rmdir(dir) }
            rmdir(base)
        }
        let locator = TreeLocator(rootPath: root)
        #expect(locator.isActive)
        func tree(_ path: String) -> String? {
            let fd = open(path, openPathFlag | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { return "open failed" }
            return locator.tree(walkingUpFrom: fd)?.description
        }
        #expect(tree(root + "/app/r1") == "app@r1")
        #expect(tree(root + "/app/r1/lib/deep") == "app@r1")
        #expect(tree(base + "/link/app/r1/lib") == "app@r1")
        #expect(tree(root + "/app/current/lib") == "app@r1")
        #expect(tree(root + "/app/r2") == "app@r2")
        #expect(tree(root + "/app") == nil)
        #expect(tree(base + "/outside") == nil)
        #expect(tree("/") == nil)
        // A second walk is answered from what the first one passed.
        #expect(tree(root + "/app/r1/lib/deep") == "app@r1")
    }

    @Test func aMissingRootIsInactive() {
        #expect(!TreeLocator(rootPath: "/nonexistent/trees-root").isActive)
    }

    @Test func pathWordsOfCommandLinesAndEnvironments() {
        let cmdline = Array("python3\u{0}/srv/t/app/r1/job.py\u{0}--config=/etc/x.ini\u{0}-v\u{0}a/b\u{0}".utf8)
        #expect(ProcWords.inCommandLine(cmdline).map { String(decoding: $0, as: UTF8.self) }
                == ["/srv/t/app/r1/job.py", "/etc/x.ini", "a/b"])
        let environ = Array("PATH=/usr/bin:/srv/t/app/r1/bin\u{0}HOME=/root\u{0}LANG=C\u{0}".utf8)
        #expect(ProcWords.inEnvironment(environ).map { String(decoding: $0, as: UTF8.self) }
                == ["/usr/bin", "/srv/t/app/r1/bin", "/root"])
    }
}
