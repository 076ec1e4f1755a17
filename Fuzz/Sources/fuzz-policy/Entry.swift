import FuzzDriver
import FuzzEntries

/// libFuzzer's entry point for the `policy` target (`make fuzz-policy`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(.policy, data, size)
}
