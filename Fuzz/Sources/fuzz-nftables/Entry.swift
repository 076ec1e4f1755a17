import FuzzDriver
import FuzzEntries

/// libFuzzer's entry point for the `nftables` target (`make fuzz-nftables`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzOne(.nftables, data, size)
}
