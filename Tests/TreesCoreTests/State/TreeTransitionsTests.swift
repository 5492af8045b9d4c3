import Foundation
import Testing
@testable import TreesCore

/// Walks `TreeState.transitions`: from every state (and from no row), every
/// event; exactly the table's moves succeed, to the table's state, and every
/// other is refused with an error naming the move, changing nothing.
@Suite struct TreeTransitionsTests {
    /// Every state a row can be in, and nil for no row.
    static let states: [TreeState?] = [nil] + TreeState.allCases.map { Optional($0) }

    /// The moves DESIGN.md allows (`installing → ready → (condemned → ready |
    /// deleting → deleted)`, an install's intent dropped, and the moves of
    /// recovery and doctor), written out again on purpose: a row added to
    /// the table fails here until someone adds its pair, having checked it
    /// against the design.
    static let allowedPairs: Set<[TreeState?]> = [
        [nil, .installing], [.deleted, .installing], [.installing, nil], [.installing, .ready],
        [.ready, .condemned], [.condemned, .ready], [.condemned, .deleting], [.condemned, .deleted],
        [.deleting, .ready], [.deleting, .deleting], [.deleting, .deleted],
        [.ready, .deleted], [nil, .ready], [.deleted, .ready],
    ]

    static let manifest = Manifest(entries: [
        .init(kind: UInt8(ascii: "d"), mode: 0o555, size: 0, value: [], path: [0x2e]),
        .init(kind: UInt8(ascii: "f"), mode: 0o444, size: 1, value: [], path: Array("f".utf8)),
    ])

    /// Fires `event` on `ref` through its named method, inside a write.
    static func fire(_ event: TreeEvent, _ ref: TreeRef, on store: Store) throws {
        try store.write {
            switch event {
            case .beginInstall: _ = try store.beginInstall(ref, path: "/srv/trees/\(ref.name)/\(ref.rev)", manifest: manifest)
            case .abandonInstall: try store.abandonInstall(ref)
            case .markInstalled: try store.markInstalled(ref, detail: "test")
            case .condemn: try store.condemn(ref)
            case .reprieve: try store.reprieve(ref)
            case .markDeleting: try store.markDeleting(ref, reason: "test")
            case .markDeleted: try store.markDeleted(ref, at: 1, bytesFreed: 1)
            case .markMissing: try store.markMissing(ref, at: 1, reason: "test")
            case .adopt: try store.adopt(ref, path: "/srv/trees/\(ref.name)/\(ref.rev)", manifest: manifest, at: 1, activatedAt: nil)
            }
        }
    }

    /// Everything a move could change, to compare before and after a refusal.
    static func snapshot(_ store: Store) throws -> [[SQLValue]] {
        try store.query("SELECT * FROM trees ORDER BY id") + store.query("SELECT * FROM manifests ORDER BY tree_id")
            + store.query("SELECT * FROM history ORDER BY id") + store.query("SELECT * FROM leases ORDER BY id")
    }

    static func seed(_ ref: TreeRef, _ state: TreeState?, in store: Store) throws {
        guard let state else { return }
        try store.write {
            try store.query("INSERT INTO trees (name, rev, state, path, digest, installed_at) VALUES (?, ?, ?, ?, ?, 1)",
                            [.text(ref.name.value), .text(ref.rev.value), .text(state.rawValue),
                             .text("/srv/trees/\(ref.name)/\(ref.rev)"), .text(manifest.digest)])
        }
    }

    @Test(arguments: states)
    func everyEventFromThisStateMovesExactlyAsTheTableSays(_ from: TreeState?) throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        var reached: Set<TreeState?> = []
        for (index, event) in TreeEvent.allCases.enumerated() {
            let ref = try TreeRef(parsing: "app@r\(index)")
            try Self.seed(ref, from, in: store)
            let before = try Self.snapshot(store)
            let allowed = TreeState.transition(from: from, by: event)
            do {
                try Self.fire(event, ref, on: store)
                #expect(allowed != nil, "\(event) moved a tree that is \(from?.rawValue ?? "not recorded")")
                #expect(try store.tree(ref)?.state == allowed?.to, "\(event) from \(from?.rawValue ?? "no row")")
                reached.insert(try store.tree(ref)?.state)
            } catch let e as TreesError {
                #expect(allowed == nil, "\(event) refused from \(from?.rawValue ?? "no row"): \(e)")
                #expect(e.code == .failure)
                #expect(e.message == "cannot \(event.rawValue) \(ref): it is \(from?.rawValue ?? "not recorded")")
                #expect(try Self.snapshot(store) == before, "a refused \(event) changed the database")
            }
        }
        // Pair by pair: a tree in `from` reaches `to` by some event iff the design allows it.
        for to in Self.states {
            let allowed = Self.allowedPairs.contains([from, to])
            #expect(reached.contains(to) == allowed,
                    "\(from?.rawValue ?? "no row") → \(to?.rawValue ?? "no row") \(allowed ? "is refused" : "is allowed")")
        }
    }

    @Test func theTableHoldsExactlyTheAllowedPairs() {
        #expect(Set(TreeState.transitions.map { [$0.from, $0.to] }) == Self.allowedPairs)
    }

    @Test func eachStateAndEventHasOneRowAtMost() {
        for from in Self.states {
            for event in TreeEvent.allCases {
                #expect(TreeState.transitions.filter { $0.from == from && $0.event == event }.count <= 1)
            }
        }
        for event in TreeEvent.allCases {
            #expect(TreeState.transitions.contains { $0.event == event }, "\(event) moves nothing")
        }
    }

    @Test func aMoveOutsideAWriteIsRefused() throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        let ref = try TreeRef(parsing: "app@r1")
        try Self.seed(ref, .ready, in: store)
        #expect(throws: TreesError.self) { try store.condemn(ref) }
        #expect(try store.tree(ref)?.state == .ready)
    }

    /// The table holds only if nothing writes around it: no SQL, and no
    /// reach into the connection, in any core file outside State/.
    @Test func noSQLOutsideState() throws {
        let sources = packageDirectory + "/Sources/TreesCore"
        let files = try #require(FileManager.default.subpaths(atPath: sources))
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix("State/") }
        #expect(files.count > 20, "the sources were not found at \(sources)")
        let sql = try Regex(#"\b(SELECT|INSERT INTO|INSERT OR|UPDATE \w+ SET|DELETE FROM)\b|\.query\(|\.rows\(\"|\.db\.(?!aside)"#)
        for file in files {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains(sql) {
                Issue.record("SQL outside State/: \(file):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
            }
        }
    }

    /// A lease has no state of its own; what it needs is a ready tree.
    @Test(arguments: TreeState.allCases)
    func onlyAReadyTreeTakesALease(_ state: TreeState) throws {
        let t = try TempDir()
        let store = try Root.create(t.path + "/root").openStore(create: true)
        let ref = try TreeRef(parsing: "app@r1")
        try Self.seed(ref, state, in: store)
        let id = try #require(try store.tree(ref)).id
        let lease = Lease(id: "0123456789abcdef", tree: ref, bootID: "boot", pid: 1, startTime: 1, pidfdInode: nil,
                          uid: 0, acquiredAt: 1, command: nil)
        do {
            try store.write { try store.addLease(lease, treeID: id) }
            #expect(state == .ready)
            #expect(try store.write { try store.releaseLease(lease.id) })
            #expect(try !store.write { try store.releaseLease(lease.id) })
        } catch let e as TreesError {
            #expect(state != .ready)
            #expect(e.code == .temporary)
            #expect(try store.leases().isEmpty)
        }
    }
}
