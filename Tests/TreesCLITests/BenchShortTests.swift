import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import TreesCore

/// The short form of contrib/bench: only what is deterministic on a shared
/// CI machine (sizes, counts, the shape of the output), never a speed.
@Suite("bench, short form")
struct BenchShortTests {
    /// Every `trees exec` opens the database, writes a lease and closes it,
    /// as the only connection. Without a bound the WAL grew ~14 KB a job, and
    /// every open re-read all of it. Done through the library, exactly as
    /// exec does it, because 2,000 processes take minutes in a debug build.
    @Test func walStaysUnderItsBoundAfter2000Jobs() throws {
        let s = try Scratch()
        let src = try s.write("src/bin/job.sh", "#!/bin/sh\n", executable: true)
        #expect(try s.trees(["install", "app@r1", URL(fileURLWithPath: src).deletingLastPathComponent().path, "--activate"]).status == 0)
        let root = try #require(try Root.openExisting(s.root))
        let selector = try TreeSelector(parsing: "app")
        var largest: Int64 = 0
        for _ in 0..<2000 {
            do {
                let store = try root.openStore()
                _ = try Leases(root: root, store: store).acquire(selector, pid: getpid())
            }
            largest = max(largest, walBytes(s.root))
        }
        #expect(largest <= Store.walCheckpointBytes, "WAL reached \(largest) bytes")
        let store = try root.openStore()
        #expect(try store.query("SELECT count(*) FROM leases").first?.first?.int == 2000)
    }

    /// The same bound through the real binary, for a few jobs: no process
    /// leaves the WAL past it, and readers see every lease.
    @Test func execLeavesTheWALUnderItsBound() throws {
        let s = try Scratch()
        let src = try s.write("src/README", "x\n")
        #expect(try s.trees(["install", "app@r1", URL(fileURLWithPath: src).deletingLastPathComponent().path, "--activate"]).status == 0)
        for _ in 0..<30 {
            #expect(try s.trees(["exec", "app", "--", "/bin/true"]).status == 0)
            #expect(walBytes(s.root) <= Store.walCheckpointBytes)
        }
        let list = try s.trees(["lease", "list", "--json"])
        #expect(list.status == 0)
        #expect(list.stdout.components(separatedBy: "\"pid\"").count - 1 == 30)
    }

    /// trees-bench runs end to end on tiny workloads and writes valid JSON
    /// with a row for every operation and issue 18's series at every size
    /// asked for, and an SVG plot that parses (what it measures is not asserted).
    @Test func benchRunsEndToEndOnTinyWorkloads() throws {
        let s = try Scratch()
        let bench = URL(fileURLWithPath: treesBinary).deletingLastPathComponent().appendingPathComponent("trees-bench").path
        let json = s.path + "/bench.json"
        let r = try run(bench, ["--trees-binary", treesBinary, "--files", "200", "--processes", "20", "--runs", "1",
                                "--trees", "5", "--jobs", "40", "--scale", "200,400", "--process-scale", "10,20",
                                "--dir", s.path, "--json", json])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("| operation | workload | trees | peer | ratio | target | met |"))
        let data = try Data(contentsOf: URL(fileURLWithPath: json))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(object["rows"] as? [[String: Any]])
        let ids = Set(rows.compactMap { $0["id"] as? String })
        #expect(ids == ["exec", "floor", "aged", "ps", "psscale", "install", "cold", "scale", "archive", "reinstall",
                        "revision", "delete", "concurrent"])
        let failed = rows.filter { ($0["trees"] as? String)?.hasPrefix("failed") == true }
        #expect(failed.isEmpty, "\(failed)")
        #expect((object["machine"] as? [String: Any])?["kernel"] != nil)
        // Tests run as root here; elsewhere the cold row says it was skipped.
        if getuid() != 0 {
            #expect(rows.contains { $0["id"] as? String == "cold" && ($0["trees"] as? String)?.hasPrefix("skipped") == true })
        }

        // Issue 18's series: each at every size asked for, with trees's
        // time and peak RSS, and the peer's where it has one.
        let series = try #require(object["series"] as? [[String: Any]])
        var sizes: [String: [Int]] = [:]
        for entry in series {
            let id = try #require(entry["id"] as? String)
            #expect(entry["label"] is String && entry["unit"] is String, "\(id)")
            let points = try #require(entry["points"] as? [[String: Any]], "\(id)")
            sizes[id] = points.compactMap { $0["size"] as? Int }
            for p in points {
                #expect(((p["trees_s"] as? Double) ?? 0) > 0, "\(id): \(p)")
                #expect(((p["trees_peak_rss_bytes"] as? Double) ?? 0) > 0, "\(id): \(p)")
                let hasPeer = entry["peer"] is String
                #expect((p["peer_s"] is Double) == hasPeer && (p["peer_peak_rss_bytes"] is Double) == hasPeer, "\(id): \(p)")
            }
        }
        var expected = ["scale-install": [200, 400], "scale-verify": [200, 400], "scale-list-usage": [200, 400],
                        "scale-delete": [200, 400], "ps": [10, 20]]
        if getuid() == 0 { expected["cold-install"] = [200] }
        #expect(sizes == expected)

        // The plot, beside the JSON: well-formed XML, a panel title per series.
        let svg = try Data(contentsOf: URL(fileURLWithPath: s.path + "/bench.svg"))
        let parser = XMLParser(data: svg)
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        let text = String(decoding: svg, as: UTF8.self)
        #expect(text.contains("<svg") && text.contains("64 MiB bound"))
        for entry in series { #expect(text.contains("\(entry["label"] as? String ?? "?")</text>")) }
        // --replot draws the same plot again from the JSON alone (how a
        // 1,000,000-file run made apart joins the smaller sizes' curve).
        let replot = try run(bench, ["--replot", json, "--plot", s.path + "/replot.svg"])
        #expect(replot.status == 0, "\(replot.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.path + "/replot.svg")) == svg)
        // It cleaned up after itself: only its JSON is left in --dir.
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.path).filter { $0.hasPrefix("trees-bench.") }.isEmpty)
    }

    /// Issue 9's dedup: a revision differing in 1% of its files shares every
    /// unchanged file with the revision before it (same device and inode).
    @Test func revisionWithOnePercentChangedSharesEveryUnchangedFile() throws {
        let s = try Scratch()
        for i in 0..<200 { try s.write("v1/d\(i % 10)/f\(i)", "content of file \(i)\n") }
        #expect(try s.trees(["install", "app@r1", s.path + "/v1"]).status == 0)
        _ = try run("/bin/cp", ["-a", s.path + "/v1", s.path + "/v2"])
        let changed = [3, 103]
        for i in changed { try s.write("v2/d\(i % 10)/f\(i)", "changed \(i)\n") }
        #expect(try s.trees(["install", "app@r2", s.path + "/v2"]).status == 0)
        for i in 0..<200 {
            let a = try FileManager.default.attributesOfItem(atPath: "\(s.root)/app/r1/d\(i % 10)/f\(i)")
            let b = try FileManager.default.attributesOfItem(atPath: "\(s.root)/app/r2/d\(i % 10)/f\(i)")
            let shared = (a[.systemFileNumber] as? Int) == (b[.systemFileNumber] as? Int)
            #expect(shared == !changed.contains(i), "file \(i)")
        }
    }
}

func walBytes(_ root: String) -> Int64 {
    var st = stat()
    return stat(root + "/.trees/state.db-wal", &st) == 0 ? Int64(st.st_size) : 0
}
