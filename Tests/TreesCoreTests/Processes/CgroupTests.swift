import Testing
@testable import TreesCore

@Suite struct CgroupEvidenceTests {
    private static let tree = TreeRef(name: try! TreeName("app"), rev: try! Rev("r1"))

    /// A job cgroup counts only for the root whose tag it carries; an
    /// untagged name (from before tags) counts for every root.
    @Test(arguments: [
        ("0::/jobs/trees-00000000000000aa-app@r1-42\n", "00000000000000aa", true),
        ("0::/jobs/trees-00000000000000bb-app@r1-42\n", "00000000000000aa", false),
        ("0::/jobs/trees-00000000000000bb-app@r1-42\n", nil, false),
        ("0::/jobs/trees-app@r1-42\n", "00000000000000aa", true),
        ("0::/jobs/trees-app@r1-42/sub\n", "00000000000000aa", false),
    ] as [(String, String?, Bool)])
    func jobCgroupCountsForItsOwnRoot(text: String, tag: String?, counts: Bool) {
        #expect((Cgroup.tree(inProcCgroup: Array(text.utf8), rootTag: tag) == Self.tree) == counts)
    }

    @Test func rootTagsAreSixteenHexDigitsAndDifferByIdentity() {
        let a = Cgroup.rootTag(of: FileIdentity(device: 2049, inode: 1234))
        let b = Cgroup.rootTag(of: FileIdentity(device: 2049, inode: 1235))
        #expect(a.count == 16 && b.count == 16 && a != b)
        #expect(a.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        #expect(Cgroup.parseJobName(Cgroup.jobName(Self.tree, rootTag: a, id: "x1"))?.rootTag == a)
    }
}
