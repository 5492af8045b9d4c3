/// Attributes paths to trees by their shape: `ROOT/NAME/REV[/...]` with a
/// valid NAME and REV. Works on bytes, and builds strings only for the two
/// components of a candidate, so most of /proc is never decoded.
struct ProcPathMatcher {
    /// Each spelling of ROOT, followed by `/`.
    private let prefixes: [[UInt8]]
    private let resolveCurrent: ((TreeName) -> Rev?)?
    /// `current` is resolved once per name per scan.
    private var currentRevs: [TreeName: Rev?] = [:]

    init(roots: [String], resolveCurrent: ((TreeName) -> Rev?)?) {
        prefixes = roots.map { root in Array((root == "/" ? "" : root).utf8) + [ProcBytes.slash] }
        self.resolveCurrent = resolveCurrent
    }

    /// The tree holding a path the kernel reported (a link target or a maps
    /// entry): NAME and REV must be whole components.
    mutating func tree(ofKernelPath reported: ArraySlice<UInt8>) -> TreeRef? {
        let path = ProcBytes.droppingDeletedSuffix(reported)
        for prefix in prefixes where path.starts(with: prefix) {
            let rest = path.dropFirst(prefix.count)
            guard let slash = rest.firstIndex(of: ProcBytes.slash) else { continue }
            let revEnd = rest[(slash + 1)...].firstIndex(of: ProcBytes.slash) ?? rest.endIndex
            if let ref = tree(name: rest[..<slash], rev: rest[(slash + 1)..<revEnd]) { return ref }
        }
        return nil
    }

    /// Every tree that free text (arguments, environment values) names. Each
    /// occurrence of `ROOT/` counts, and NAME and REV end where their
    /// characters end, so `PATH=/bin:ROOT/app/r1/bin` and
    /// `--config=ROOT/app/r1/c.ini` both count. Erring towards a match is
    /// safe: it can only keep a tree.
    mutating func trees(inText text: ArraySlice<UInt8>) -> [TreeRef] {
        var found: [TreeRef] = []
        for prefix in prefixes {
            var from = text.startIndex
            while let start = ProcBytes.firstIndex(of: prefix, in: text[from...]) {
                from = start + 1
                let nameStart = start + prefix.count
                let nameEnd = text[nameStart...].firstIndex(where: { !NameBytes.isName($0) }) ?? text.endIndex
                guard nameEnd < text.endIndex, text[nameEnd] == ProcBytes.slash else { continue }
                let revEnd = text[(nameEnd + 1)...].firstIndex(where: { !NameBytes.isRev($0) }) ?? text.endIndex
                if let ref = tree(name: text[nameStart..<nameEnd], rev: text[(nameEnd + 1)..<revEnd]) {
                    found.append(ref)
                }
            }
        }
        return found
    }

    /// Trees named by an environment block: `TREES_TREE=NAME@REV` (set by
    /// `trees exec`) names one directly; any value counts by path.
    ///
    /// The marker counts only when the same environment's `TREES_ROOT`
    /// names this root: spelled as one of its spellings, or, through
    /// `namesRoot`, the same directory by device and inode however spelled.
    /// Without `TREES_ROOT` it names no root, so it counts for none (`trees
    /// exec` always sets both); otherwise a job of another root on the same
    /// host would keep this root's tree of the same name.
    mutating func trees(inEnvironment block: [UInt8], namesRoot: ((ArraySlice<UInt8>) -> Bool)? = nil) -> [TreeRef] {
        var found = trees(inText: block[...])
        let key = Array("TREES_TREE=".utf8)
        let rootKey = Array("TREES_ROOT=".utf8)
        // Most environments hold neither marker: look before splitting.
        guard ProcBytes.firstIndex(of: key, in: block[...]) != nil else { return found }
        let entries = block.split(separator: 0)
        let namesThisRoot = entries.contains { entry in
            guard entry.starts(with: rootKey) else { return false }
            let root = entry.dropFirst(rootKey.count)
            var spelled = Array(root)
            while spelled.count > 1 && spelled.last == ProcBytes.slash { spelled.removeLast() }
            return prefixes.contains(spelled + [ProcBytes.slash]) || namesRoot?(root) == true
        }
        guard namesThisRoot else { return found }
        for entry in entries where entry.starts(with: key) {
            let value = entry.dropFirst(key.count)
            if let at = value.firstIndex(of: UInt8(ascii: "@")),
               let ref = tree(name: value[..<at], rev: value[(at + 1)...]) {
                found.append(ref)
            }
        }
        return found
    }

    private mutating func tree(name nameBytes: ArraySlice<UInt8>, rev revBytes: ArraySlice<UInt8>) -> TreeRef? {
        let nameText = String(decoding: nameBytes, as: UTF8.self)
        guard TreeName.isValid(nameText), let name = try? TreeName(nameText) else { return nil }
        let revText = String(decoding: revBytes, as: UTF8.self)
        if revText == "current" {
            return currentRev(of: name).map { TreeRef(name: name, rev: $0) }
        }
        guard Rev.isValid(revText), let rev = try? Rev(revText) else { return nil }
        return TreeRef(name: name, rev: rev)
    }

    private mutating func currentRev(of name: TreeName) -> Rev? {
        if let known = currentRevs[name] { return known }
        let rev = resolveCurrent?(name)
        currentRevs[name] = rev
        return rev
    }
}
