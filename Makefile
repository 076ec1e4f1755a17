# portwarden developer targets.
#
#   make bench                  synthetic hosts s1, s2, s3 (needs root: network namespaces, nft; a few minutes)
#   make bench SCALES=s4        the 50k listeners / 50k rules / 1M set elements host (~10 minutes, ~2 GiB RAM)
#   make bench SKIP_BUILD=1 PORTWARDEN=path/to/portwarden    time an existing binary
#   make bench CONTAINERS=0     skip the container host (300 namespaces x 3 listeners, 2000 kube-proxy services x 3 endpoints)
#   make bench-containers       the container host alone (CONTAINERS=N SERVICES=M to resize it)
#   make bench-clean            delete pwt-bench-* namespaces left by a harness that was SIGKILLed
#   make differential SEEDS=200 trace against the kernel on generated rulesets (needs root; SEEDS: count, a-b or list)
#   make install PREFIX=/usr/local [DESTDIR=stage]   stripped release binary, man pages, bash/zsh/fish completions
#   make install SKIP_BUILD=1 PORTWARDEN=path         install an existing binary instead of building one
#   make deb                    dist/portwarden_<version>_<arch>.deb (needs dpkg-deb and dpkg-shlibdeps)
#   make fuzz SECONDS=60        build the libFuzzer targets (Fuzz/, -sanitize=fuzzer,address) and run each for SECONDS
#   make fuzz-policy SECONDS=600  one target (nftables sockdiag rtnetlink policy snapshot probe report)
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

PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
# Debian's zsh reads vendor-completions; other systems use $(PREFIX)/share/zsh/site-functions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/vendor-completions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DIST        ?= dist
GENERATED_COMMIT := Sources/portwarden/BuildCommit.generated.swift

# Fuzzing (Fuzz/README.md): seconds per target, sanitizers, and where the separate fuzz package builds.
SECONDS         ?= 60
FUZZ_TARGETS    ?= nftables sockdiag rtnetlink policy snapshot probe report
FUZZ_SANITIZERS ?= fuzzer,address
FUZZ_SCRATCH    ?= Fuzz/.build

.PHONY: help release commit-stamp install deb bench bench-containers bench-clean differential fuzz fuzz-build $(addprefix fuzz-,$(FUZZ_TARGETS))

help:
	@sed -n '2,17p' Makefile | sed 's/^# \{0,1\}//'

# The commit `--version` prints: written into a gitignored source file, compiled in only with the flag below.
commit-stamp:
	@commit=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown); \
	  if [ -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$$commit-dirty"; fi; \
	  printf '#if PORTWARDEN_GENERATED_COMMIT\n    let buildCommit = "%s"\n#endif\n' "$$commit" > $(GENERATED_COMMIT).tmp; \
	  cmp -s $(GENERATED_COMMIT).tmp $(GENERATED_COMMIT) && rm $(GENERATED_COMMIT).tmp || mv $(GENERATED_COMMIT).tmp $(GENERATED_COMMIT)

release: commit-stamp
	$(SWIFT) build -c release --static-swift-stdlib -Xswiftc -DPORTWARDEN_GENERATED_COMMIT --scratch-path $(SCRATCH)

install: $(if $(SKIP_BUILD),,release)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(PORTWARDEN) $(DESTDIR)$(BINDIR)/portwarden
	strip --strip-unneeded $(DESTDIR)$(BINDIR)/portwarden
	$(PYTHON) scripts/packaging/gen-man $(DESTDIR)$(BINDIR)/portwarden $(DESTDIR)$(MANDIR)/man1 > /dev/null
	$(DESTDIR)$(BINDIR)/portwarden --generate-completion-script bash > $(DESTDIR)$(BASHCOMPDIR)/portwarden
	$(DESTDIR)$(BINDIR)/portwarden --generate-completion-script zsh > $(DESTDIR)$(ZSHCOMPDIR)/_portwarden
	$(DESTDIR)$(BINDIR)/portwarden --generate-completion-script fish > $(DESTDIR)$(FISHCOMPDIR)/portwarden.fish

deb:
	rm -rf $(DIST)/stage
	$(MAKE) install DESTDIR=$(CURDIR)/$(DIST)/stage PREFIX=/usr
	scripts/packaging/build-deb $(DIST)/stage $(DIST)

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

fuzz-build:
	$(SWIFT) build -c release --package-path Fuzz --scratch-path $(FUZZ_SCRATCH) \
	  -Xswiftc -sanitize=$(FUZZ_SANITIZERS) -Xswiftc -use-ld=lld

# Every target runs even when an earlier one fails; the exit status says whether any did.
fuzz: fuzz-build
	@failed=; for t in $(FUZZ_TARGETS); do \
	  scripts/fuzz/run $$t $(SECONDS) $(FUZZ_SCRATCH)/release || failed="$$failed $$t"; done; \
	  if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (inputs in Fuzz/crashes/)"; exit 1; fi; \
	  echo "fuzz: every target ran $(SECONDS)s clean"

$(addprefix fuzz-,$(FUZZ_TARGETS)): fuzz-%: fuzz-build
	scripts/fuzz/run $* $(SECONDS) $(FUZZ_SCRATCH)/release
