import ArgumentParser
import TreesCore
#if canImport(Glibc)
import Glibc
#endif

let exitStatusHelp = """
    EXIT STATUS:
      0   success
      1   unexpected failure, or a damaged or unusable state database
      64  usage error (bad option, bad DURATION)
      65  bad input: invalid NAME, REV or shared PATH, hostile or damaged
          archive, content at a shared path, conflicting re-install,
          modified tree (verify), a release marked bad (activate without
          --force, a failed --check)
      66  no such tree, source, git ref, previous revision or shared path
      75  temporary: busy, in use, timed out, or no space left; retry later
    """

struct Trees: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trees",
        abstract: "Install every revision side by side; delete an old one only when its last job has exited.",
        discussion: """
            Each revision NAME@REV lives at ROOT/NAME/REV, read-only; ROOT/NAME/current \
            points at the active one. State is kept in ROOT/.trees/state.db (SQLite).

            Options before the subcommand apply to it: trees --root DIR list is trees list --root DIR.

            ENVIRONMENT:
              TREES_ROOT              the root when --root is not given (default /srv/trees)
              TREES_METRICS_TEXTFILE  the textfile install, activate, rollback and gc rewrite
                                      when --metrics-textfile is not given

            \(exitStatusHelp)
            """,
        version: "0.1.0",
        subcommands: [Install.self, Activate.self, Rollback.self, Mark.self, History.self, List.self, Verify.self,
                      Exec.self, LeaseCommand.self, Ps.self, Wait.self, Drain.self, GC.self, Pin.self, Unpin.self, Remove.self, Shared.self,
                      Doctor.self, Status.self, Log.self, Metrics.self])

    @OptionGroup var global: GlobalOptions
}
