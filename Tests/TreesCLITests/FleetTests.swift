import Foundation
import Testing

let prometheusBinary = "/usr/bin/prometheus"
let nodeExporterBinary = "/usr/bin/prometheus-node-exporter"
let haveFleetEngine = FileManager.default.isExecutableFile(atPath: prometheusBinary)
    && FileManager.default.isExecutableFile(atPath: nodeExporterBinary)

/// The PromQL queries README.md gives under "Watching a fleet", by title, in order.
func readmeFleetQueries() throws -> [(title: String, query: String)] {
    let readme = try String(contentsOf: fixtures.deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
    guard let start = readme.range(of: "```promql\n"), let end = readme.range(of: "```", range: start.upperBound..<readme.endIndex) else {
        return []
    }
    var result: [(String, String)] = []
    var title: String?
    for line in readme[start.upperBound..<end.lowerBound].split(separator: "\n") {
        if line.hasPrefix("# ") { title = String(line.dropFirst(2)) } else if let t = title {
            result.append((t, String(line)))
            title = nil
        }
    }
    return result
}

/// A server the test starts and stops by its pid, its output in a log file.
final class Server {
    let process = Process()
    let log: String

    init(_ program: String, _ arguments: [String], log: String) throws {
        self.log = log
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// A TCP port on 127.0.0.1 that is free now (bound to port 0, then released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EIO) }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard ok else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// One HTTP/1.0 GET to 127.0.0.1:port; returns the body, or nil when nothing answers.
func httpGet(port: Int, _ target: String) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else { return nil }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array("GET \(target) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
    var response = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard text.hasPrefix("HTTP/1."), let split = text.range(of: "\r\n\r\n") else { return nil }
    return String(text[split.upperBound...])
}

/// Asks Prometheus an instant query; returns the samples as (labels, value).
func promQuery(port: Int, _ query: String) -> [(labels: [String: String], value: Double)]? {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    guard let encoded = query.addingPercentEncoding(withAllowedCharacters: allowed),
          let body = httpGet(port: port, "/api/v1/query?query=\(encoded)"),
          let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
          object["status"] as? String == "success",
          let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else { return nil }
    return result.map { sample in
        let value = (sample["value"] as? [Any])?.last as? String ?? "nan"
        return (sample["metric"] as? [String: String] ?? [:], Double(value) ?? .nan)
    }
}

@Suite("Fleet: three hosts, their node_exporters and one Prometheus", .serialized)
struct FleetTests {
    @Test("README's rollout query is false while an r1 job runs on one host and true within a few scrapes after it exits",
          .enabled(if: haveFleetEngine, "needs Debian's prometheus and prometheus-node-exporter (contrib/bootstrap installs them)"),
          .timeLimit(.minutes(3)))
    func rolloutAcrossThreeHosts() throws {
        let queries = try readmeFleetQueries()
        try #require(queries.count == 6, "README.md must give six fleet queries in a ```promql block")
        func query(_ index: Int) -> String {
            queries[index].query.replacingOccurrences(of: "$name", with: "app").replacingOccurrences(of: "$rev", with: "r2")
        }
        let s = try Scratch()
        for f in 0..<3 { try s.write("src/lib/f\(f).txt", "content \(f)\n") }
        let hosts = (0..<3).map { "\(s.path)/host\($0)" }
        var servers: [Server] = []
        defer { servers.forEach { $0.stop() } }

        // Each host: a root, a textfile directory, and node_exporter reading only it.
        var targets: [String] = []
        for host in hosts {
            try FileManager.default.createDirectory(atPath: "\(host)/textfile", withIntermediateDirectories: true)
            let port = try freeLoopbackPort()
            servers.append(try Server(nodeExporterBinary, [
                "--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults",
                "--collector.textfile", "--collector.textfile.directory=\(host)/textfile",
            ], log: "\(host)/node_exporter.log"))
            targets.append("127.0.0.1:\(port)")
        }
        let promPort = try freeLoopbackPort()
        // The rules of contrib/prometheus too, so that their records are checked against real scrapes.
        let rules = fixtures.deletingLastPathComponent().appendingPathComponent("contrib/prometheus/trees.rules.yml").path
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: ['\(rules)']
            scrape_configs:
              - job_name: trees
                static_configs:
                  - targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]
            """
        try s.write("prometheus.yml", config)
        servers.append(try Server(prometheusBinary, [
            "--config.file=\(s.path)/prometheus.yml", "--storage.tsdb.path=\(s.path)/tsdb",
            "--web.listen-address=127.0.0.1:\(promPort)", "--log.level=warn",
        ], log: "\(s.path)/prometheus.log"))

        func trees(_ host: String, _ args: [String]) throws -> RunResult {
            try run(treesBinary, ["--root", "\(host)/root"] + args,
                    environment: ["TREES_METRICS_TEXTFILE": "\(host)/textfile/trees.prom"])
        }
        /// What a metrics timer does on each host between state changes.
        func refreshAll() throws {
            for host in hosts { #expect(try trees(host, ["metrics", "--textfile", "\(host)/textfile/trees.prom"]).status == 0) }
        }
        func answer(_ q: String) -> [(labels: [String: String], value: Double)] { promQuery(port: promPort, q) ?? [] }
        func scalar(_ q: String) -> Double? { answer(q).first?.value }

        for host in hosts { #expect(try trees(host, ["install", "app@r1", "\(s.path)/src", "--activate"]).status == 0) }
        #expect(eventually(60) { httpGet(port: promPort, "/-/ready") != nil }, "prometheus did not start: \(s.path)/prometheus.log")
        #expect(eventually(30) { scalar("count(trees_tree_current{name=\"app\",rev=\"r1\"} == 1)") == 3 })
        #expect(scalar(query(3)) == 0, "no host is on r2 yet")
        #expect(answer(query(4)).map { "\($0.labels["rev"] ?? "?")=\($0.value)" } == ["r1=3.0"])

        // A long job on host1 holds r1; then r2 rolls out host by host.
        let job = try Background(treesBinary, ["--root", "\(hosts[1])/root", "exec", "app", "--", "sleep", "300"])
        defer { job.stop() }
        #expect(eventually(10) { (try? trees(hosts[1], ["ps", "app@r1", "--json"]).stdout.contains("\"lease\"")) == true })
        for host in hosts {
            let r = try trees(host, ["install", "app@r2", "\(s.path)/src", "--activate"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        try refreshAll()
        #expect(eventually(30) {
            scalar("count(trees_tree_current{name=\"app\",rev=\"r2\"} == 1)") == 3
                && scalar("sum(trees_tree_jobs{name=\"app\",rev=\"r1\"})") == 1
        }, "the scrapes never showed r2 current on all three hosts with the r1 job")
        let before = (complete: answer(query(0)), oldHosts: answer(query(1)), waiting: answer(query(2)),
                      onRev: answer(query(3)), byRev: answer(query(4)), blocking: answer(query(5)))
        print("fleet before the last r1 job exits: rollout complete = \(before.complete.map(\.value)); "
              + "hosts still on an old rev = \(before.oldHosts.map { "\($0.labels["instance"] ?? "?")=\($0.value)" }); "
              + "trees waiting for gc = \(before.waiting.map { "\($0.labels["instance"] ?? "?") \($0.labels["rev"] ?? "?")" }); "
              + "% of hosts on r2 = \(before.onRev.map(\.value)); hosts by revision = \(before.byRev.map { "\($0.labels["rev"] ?? "?")=\($0.value)" }); "
              + "hosts still blocking = \(before.blocking.map { "\($0.labels["instance"] ?? "?") oldest old job \($0.value) s" })")
        #expect(before.complete.map(\.value) == [0])
        #expect(before.oldHosts.map { $0.labels["instance"] } == [targets[1]])
        #expect(Set(before.waiting.map { $0.labels["instance"] ?? "" }) == [targets[0], targets[2]])
        #expect(before.onRev.map(\.value) == [100])
        #expect(before.byRev.map { "\($0.labels["rev"] ?? "?")=\($0.value)" } == ["r2=3.0"])
        // The job on host1 started before this query: its age is positive and below the test's own.
        #expect(before.blocking.map { $0.labels["instance"] } == [targets[1]])
        #expect(before.blocking.allSatisfy { $0.value > 0 && $0.value < 180 }, "\(before.blocking.map(\.value))")
        // The recorded rollout state agrees with README's query.
        #expect(eventually(10) { scalar(#"name:trees_rollout_complete:bool{name="app"}"#) == 0 })
        #expect(eventually(10) { scalar(#"name:trees_jobs_off_current:sum{name="app"}"#) == 1 })
        #expect(eventually(10) { scalar(#"name:trees_revisions_in_use:count{name="app"}"#) == 2 })

        // The job exits; the next metrics refresh and scrape say the rollout is complete.
        job.stop()
        let exited = Date()
        try refreshAll()
        let complete = eventually(15) { scalar(query(0)) == 1 }
        #expect(complete, "rollout never became complete after the job exited: \(hosts.map { (try? trees($0, ["ps", "--json"]).stdout) ?? "" })")
        let after = (complete: answer(query(0)), oldHosts: answer(query(1)), waiting: answer(query(2)), blocking: answer(query(5)))
        print("fleet after the last r1 job exited (\(String(format: "%.1f", Date().timeIntervalSince(exited))) s after it exited, metrics refreshed and scraped): "
              + "rollout complete = \(after.complete.map(\.value)); "
              + "hosts still on an old rev = \(after.oldHosts.map { "\($0.labels["instance"] ?? "?")=\($0.value)" }); "
              + "trees waiting for gc = \(after.waiting.map { "\($0.labels["instance"] ?? "?") \($0.labels["rev"] ?? "?")" })")
        #expect(after.complete.map(\.value) == [1])
        #expect(after.oldHosts.isEmpty)
        #expect(after.blocking.isEmpty)
        #expect(eventually(10) { scalar(#"name:trees_rollout_complete:bool{name="app"}"#) == 1 })
        #expect(scalar(#"name:trees_revisions_in_use:count{name="app"}"#) == 1)
        #expect(Set(after.waiting.map { $0.labels["instance"] ?? "" }) == Set(targets))
    }

    @Test("two roots on one host: node_exporter serves both textfiles, every series apart by its root",
          .enabled(if: FileManager.default.isExecutableFile(atPath: nodeExporterBinary), "needs prometheus-node-exporter"),
          .timeLimit(.minutes(1)))
    func twoRootsOnOneHost() throws {
        let s = try Scratch()
        try s.write("src/f", "x")
        let textfile = s.path + "/textfile"
        try FileManager.default.createDirectory(atPath: textfile, withIntermediateDirectories: true)
        for root in ["a", "b"] {
            #expect(try run(treesBinary, ["--root", "\(s.path)/\(root)", "install", "app@r1", s.path + "/src", "--activate"]).status == 0)
            #expect(try run(treesBinary, ["--root", "\(s.path)/\(root)", "metrics", "--textfile", "\(textfile)/trees-\(root).prom"]).status == 0)
        }
        let port = try freeLoopbackPort()
        let exporter = try Server(nodeExporterBinary, [
            "--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults",
            "--collector.textfile", "--collector.textfile.directory=\(textfile)",
        ], log: s.path + "/node_exporter.log")
        defer { exporter.stop() }
        var body = ""
        #expect(eventually(20) { body = httpGet(port: port, "/metrics") ?? ""; return !body.isEmpty })
        // node_exporter refuses the whole textfile collection when two files give one series, or one family two HELPs.
        #expect(body.contains("node_textfile_scrape_error 0"), "\(body.split(separator: "\n").filter { $0.contains("textfile") })")
        for root in ["a", "b"] {
            #expect(body.contains(#"trees_tree_current{name="app",rev="r1",root="\#(s.path)/\#(root)"} 1"#)
                    || body.contains(#"trees_tree_current{root="\#(s.path)/\#(root)",name="app",rev="r1"} 1"#), "\(body)")
            #expect(body.contains(#"trees_gc_runs_total{root="\#(s.path)/\#(root)"} 0"#))
        }
    }

    @Test("contrib/grafana/trees.json is valid JSON whose queries are exactly README's")
    func grafanaDashboardUsesReadmeQueries() throws {
        let url = fixtures.deletingLastPathComponent().appendingPathComponent("contrib/grafana/trees.json")
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs == (try readmeFleetQueries()).map(\.query))
        #expect(!exprs.isEmpty)
    }
}
