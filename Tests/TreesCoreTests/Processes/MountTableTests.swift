import Testing
@testable import TreesCore

@Suite struct MountTableTests {
    @Test func parsesIdDeviceRootAndMountPointWithEscapes() {
        let text = Array("""
            22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
            97 22 8:1 /srv/trees/app/r1/lib /tmp/with\\040space rw,relatime shared:1 - ext4 /dev/sda1 rw
            bad line
            98 22 0:45 /x\\134y /mnt rw - tmpfs tmpfs rw

            """.utf8)
        let entries = MountTable.entries(text)
        #expect(entries.count == 3)
        #expect(entries[1] == MountEntry(id: 97, device: 8 << 32 | 1, root: Array("/srv/trees/app/r1/lib".utf8),
                                         mountPoint: Array("/tmp/with space".utf8), fsType: Array("ext4".utf8)))
        #expect(entries[2].root == Array("/x\\y".utf8))
        #expect(entries[2].device == 45)
        #expect(entries[2].fsType == Array("tmpfs".utf8) && entries[2].overlayLayers.isEmpty)
        #expect(entries[1].deviceNumber == 0x801)
    }

    /// An overlay's layers, as the kernel writes its options: octal escapes
    /// for `,` and space, `\:` for a colon inside one path, `::` before
    /// data-only layers.
    @Test func overlayLayersFromItsOptions() {
        let text = Array("""
            120 22 0:77 / /merged rw - overlay overlay rw,lowerdir=/srv/trees/app/r1:/a\\:b::/data,upperdir=/u\\054x,workdir=/w\\040y,redirect_dir=on

            """.utf8)
        let entry = MountTable.entries(text)[0]
        #expect(entry.isOverlay)
        #expect(entry.overlayLayers.map { String(decoding: $0, as: UTF8.self) } == ["/srv/trees/app/r1", "/a:b", "/data", "/u,x", "/w y"])
    }

    @Test func relativeGoesByWholeComponents() {
        func rel(_ path: String, _ prefix: String) -> String? {
            MountTable.relative(Array(path.utf8), below: Array(prefix.utf8)).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(rel("/srv/trees/app/r1", "/srv/trees") == "app/r1")
        #expect(rel("/srv/trees", "/srv/trees") == "")
        #expect(rel("/srv/trees2/app", "/srv/trees") == nil)
        #expect(rel("/srv", "/srv/trees") == nil)
        #expect(rel("/srv/trees", "/") == "srv/trees")
    }
}
