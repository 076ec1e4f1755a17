# portwarden developer targets.
#
#   make bench                  synthetic hosts s1, s2, s3 (needs root: network namespaces, nft; a few minutes)
#   make bench SCALES=s4        the 50k listeners / 50k rules / 1M set elements host (~10 minutes, ~2 GiB RAM)
#   make bench SKIP_BUILD=1 PORTWARDEN=path/to/portwarden    time an existing binary
#   make bench CONTAINERS=0     skip the container host (300 namespaces x 3 listeners, 2000 kube-proxy services x 3 endpoints)
#   make bench-containers       the container host alone (CONTAINERS=N SERVICES=M to resize it)
#   make bench-clean            delete pwt-bench-* namespaces left by a harness that was SIGKILLed
#   make differential SEEDS=200 trace against the kernel on generated rulesets (needs root; SEEDS: count, a-b or list)
#
# Results: bench-out/results.md and bench-out/results.json (gitignored); figures are summarized in BENCHMARKS.md.

SWIFT       ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
PYTHON      ?= python3
SCRATCH     ?= .build
PORTWARDEN  ?= $(SCRATCH)/release/portwarden
SCALES      ?= s1,s2,s3
EVAL_SCALES ?= s2,s3,s4
RUNS        ?= 5
WARMUP      ?= 1
# one run of `nft -j list ruleset` takes ~2 minutes at s4, so s4 is timed once unless asked otherwise
RUNS_S4     ?= 1
WARMUP_S4   ?= 0
PROBES      ?= 100000
EVAL_TIMEOUT ?= 120
EVAL_MEM_MIB ?= 4096
# auto | none | --flag=v1,v2 | env:NAME=v1,v2  (how to choose the collector's rule dump strategy)
RULE_DUMP   ?= auto
SEED        ?= 1
BENCH_OUT   ?= bench-out
SKIP_BUILD  ?=
# KEEP=1 keeps the other scales from the previous bench-out/results.json (e.g. `make bench SCALES=s4 KEEP=1`)
KEEP        ?=

SEEDS       ?= 50
CONTAINERS  ?= 300
SERVICES    ?= 2000

.PHONY: help release bench bench-containers bench-clean differential

help:
	@sed -n '2,12p' Makefile | sed 's/^# \{0,1\}//'

release:
	$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(SCRATCH)

bench: $(if $(SKIP_BUILD),,release)
	$(PYTHON) scripts/bench/bench.py --scales $(SCALES) --eval-scales $(EVAL_SCALES) \
	  --runs $(RUNS) --warmup $(WARMUP) --runs-s4 $(RUNS_S4) --warmup-s4 $(WARMUP_S4) \
	  --probes $(PROBES) --eval-timeout $(EVAL_TIMEOUT) --eval-mem-mib $(EVAL_MEM_MIB) \
	  --rule-dump '$(RULE_DUMP)' --seed $(SEED) \
	  --portwarden $(PORTWARDEN) --out $(BENCH_OUT) $(if $(KEEP),--keep-other-scales)
	$(if $(filter 0,$(CONTAINERS)),,$(PYTHON) scripts/bench/containers.py --portwarden $(PORTWARDEN) --containers $(CONTAINERS) \
	  --services $(SERVICES) --runs $(RUNS) --out $(BENCH_OUT))

bench-containers: $(if $(SKIP_BUILD),,release)
	$(PYTHON) scripts/bench/containers.py --portwarden $(PORTWARDEN) --containers $(CONTAINERS) --services $(SERVICES) \
	  --runs $(RUNS) --out $(BENCH_OUT)

bench-clean:
	$(PYTHON) scripts/bench/bench.py --clean

differential:
	PORTWARDEN_DIFF_SEEDS=$(SEEDS) $(SWIFT) test --scratch-path $(SCRATCH) --filter IntegrationTests.DifferentialTests
