import Foundation
import Testing
@testable import TreesCore

@Suite struct LeaseAPITests {
    @Test func withLeaseHoldsTheTreeOnlyInsideTheBody() throws {
        let t = try TempDir()
        let (root, store) = try CollectorTests().setUp(t)
        let leases = Leases(root: root, store: store)
        let selector = try TreeSelector(parsing: "app")
        let inside = try leases.withLease(selector) { lease -> [(lease: Lease, liveness: Liveness)] in
            #expect(lease.tree.rev.value == "r3")
            #expect(lease.pid == getpid())
            return try leases.list()
        }
        #expect(inside.count == 1 && inside[0].liveness == .live)
        #expect(try leases.list().isEmpty)
        // The same process judged against another boot id is dead.
        let lease = try leases.acquire(TreeSelector(parsing: "app@r1"), pid: getpid())
        #expect(ProcessProbe(bootIDOverride: "other").liveness(of: lease, bootID: "other") == .otherBoot)
        var reused = lease
        reused.startTime += 1
        #expect(ProcessProbe().liveness(of: reused, bootID: lease.bootID) == .reused)
        try leases.release(lease.id)
        #expect(throws: TreesError.self) { try leases.release(lease.id) }
    }
}
