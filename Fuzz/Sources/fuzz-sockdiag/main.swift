import FuzzDriver
import Foundation

// `make fuzz-sockdiag`: libFuzzer on the `sockdiag` entry (Fuzz/README.md).
exit(runFuzzer { fuzzOne(.sockdiag, $0, $1) })
