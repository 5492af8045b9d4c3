import CTreesShim

/// SHA-256 through `CT_sha256_*` in the C shim (the CPU's SHA extensions
/// where present). Not libcrypto: linking it loaded libcrypto at every start
/// of `trees`, though only install and verify hash anything.
struct SHA256 {
    private let ctx: UnsafeMutablePointer<CT_sha256_ctx>

    init() {
        ctx = .allocate(capacity: 1)
        CT_sha256_init(ctx)
    }

    func update(_ buffer: UnsafeRawBufferPointer) {
        if buffer.count > 0 { CT_sha256_update(ctx, buffer.baseAddress, buffer.count) }
    }

    func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Finishes and frees the context; returns lowercase hex.
    consuming func finish() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { CT_sha256_final(ctx, $0.baseAddress) }
        ctx.deallocate()
        return hex(out)
    }

    static func hash(_ bytes: [UInt8]) -> String {
        let h = SHA256()
        h.update(bytes)
        return h.finish()
    }
}
