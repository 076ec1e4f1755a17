import FuzzDriver
import Foundation

// `make fuzz-rtnetlink`: libFuzzer on the `rtnetlink` entry (Fuzz/README.md).
exit(runFuzzer { fuzzOne(.rtnetlink, $0, $1) })
