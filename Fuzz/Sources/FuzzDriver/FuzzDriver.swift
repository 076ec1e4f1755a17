import FuzzEntries
#if canImport(Glibc)
import Glibc
#endif

/// What every `LLVMFuzzerTestOneInput` does: one input through the target's entry; a broken contract is reported
/// and aborts, so libFuzzer saves the input as a crash (a trap in the parser does the same by itself).
public func fuzzOne(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
    do {
        _ = try target.run(input)
    } catch {
        fputs("portwarden fuzz \(target.rawValue): \(error.description)\n", stderr)
        abort()
    }
    return 0
}
