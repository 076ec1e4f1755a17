import FuzzDriver
import FuzzEntries

/// libFuzzer's entry point for the `rtnetlink` target (`make fuzz-rtnetlink`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(.rtnetlink, data, size)
}
