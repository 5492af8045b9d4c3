import TreesCommands

// The arguments are read from argv here rather than through
// `CommandLine.arguments`: that property is built by unspecialized standard
// library code (a `map` over `0..<argc`) whose generic metadata the runtime
// instantiates by mangled name, checking `Int: Comparable` with a scan of
// every protocol conformance in the binary — about 4% of `trees exec`'s
// time in a profile of the release build. A loop over the C array, compiled
// here, needs none of it; the strings are the same (invalid UTF-8 repaired
// as `CommandLine.arguments` repairs it).
var arguments: [String] = []
let count = Int(CommandLine.argc)
arguments.reserveCapacity(max(0, count - 1))
var index = 1
while index < count {
    if let word = CommandLine.unsafeArgv[index] { arguments.append(String(cString: word)) }
    index += 1
}
TreesMain.main(arguments)
