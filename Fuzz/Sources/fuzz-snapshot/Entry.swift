import FuzzDriver
import FuzzEntries

/// libFuzzer's entry point for the `snapshot` target (`make fuzz-snapshot`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(.snapshot, data, size)
}
