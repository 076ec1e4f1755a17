import FuzzDriver
import Foundation

// `make fuzz-policy`: libFuzzer on the `policy` entry (Fuzz/README.md).
exit(runFuzzer { fuzzOne(.policy, $0, $1) })
