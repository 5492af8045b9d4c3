// A job supervisor on TreesCore: usage `supervisor ROOT NAME COMMAND`.
// It runs COMMAND from the current revision of NAME under a lease, then
// asks what still runs from that revision and waits until nothing does.
import Glibc
import TreesCore

let args = CommandLine.arguments
// The environment may set the lock timeout and vouch for pids (trees(1), ENVIRONMENT).
guard args.count == 4, let root = try Root.openExisting(args[1], settings: try Settings.fromEnvironment()) else {
    print("usage: supervisor ROOT NAME COMMAND")
    exit(64)
}
let store = try root.openStore()
let leases = Leases(root: root, store: store)
let tree = try leases.withLease(try TreeSelector(parsing: args[2])) { lease in
    // The job runs in the tree; the lease (this process) keeps the tree while it does.
    let argv = ["/bin/sh", "-c", "cd \"$0\" && exec /bin/sh -c \"$1\"", root.treePath(lease.tree), args[3]]
    var pid: pid_t = 0
    let cargs = argv.map { strdup($0) } + [nil]
    defer { cargs.forEach { free($0) } }
    guard posix_spawn(&pid, "/bin/sh", nil, nil, cargs, environ) == 0 else { exit(1) }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    print("ran from \(lease.tree) (lease \(lease.id)), exit status \(status >> 8)")
    return lease.tree
}
let scanner = UsageScanner(root: root, store: store)
print("processes on \(tree) now: \(try scanner.scan().holders(of: tree).count)")
let (done, _) = try Waiter(scanner: scanner).wait(for: tree, timeout: 10)
print(done ? "\(tree) is free" : "\(tree) is still in use")
