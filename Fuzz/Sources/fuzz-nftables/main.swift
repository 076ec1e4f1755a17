import FuzzDriver
import Foundation

// `make fuzz-nftables`: libFuzzer on the `nftables` entry (Fuzz/README.md).
exit(runFuzzer { fuzzOne(.nftables, $0, $1) })
