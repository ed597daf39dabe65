# Switchboard: `make run` starts the demo, `make test` checks everything. See README.md.

# One target dir outside the clone, shared by the console, the server and every clone on this
# machine: a second run reuses what the first compiled (only 2 cores here).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/switchboard/target
export CARGO_BUILD_JOBS ?= 2
# binaryen's wasm-opt from npm comes first: Debian's binaryen corrupts the console's wasm.
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

SERVER_DEBUG := $(CARGO_TARGET_DIR)/debug/switchboard-server
SERVER_RELEASE := $(CARGO_TARGET_DIR)/release/switchboard-server
LISTEN ?= 127.0.0.1:8080
# Set to enable the call ingest API in `make run` (at least 16 characters). The server reads it
# from its environment (SWITCHBOARD_INGEST_TOKEN), never from its arguments, which `ps` shows.
INGEST_TOKEN ?=
# Chat mode of `make run`: cloudlink (default) or micollab.
MODE ?= cloudlink

.PHONY: run test tools asterisk console lint rust-test chaos-short chaos chaos-cluster-short chaos-cluster \
	chaos-xmpp-short chaos-xmpp soak fuzz e2e \
	bench clean

## run: install what is missing, build the console and the server, start the demo company
ifneq ($(INGEST_TOKEN),)
run: export SWITCHBOARD_INGEST_TOKEN := $(INGEST_TOKEN)
endif
run: tools console
	@echo "==> building the server (release)"
	cargo build --release -p switchboard-server
	@echo "==> Switchboard: open http://$(LISTEN)/ and sign in as operator / operator"
	@echo "    (other demo accounts: alice, bob, carol, dave; password = user name). Ctrl-C stops."
	$(SERVER_RELEASE) --demo --mode $(MODE) --listen $(LISTEN)

## test: formatting, clippy, Rust tests, release console build, end-to-end tests in Chromium
test: lint rust-test chaos-short chaos-cluster-short chaos-xmpp-short console e2e
	@echo "==> all checks passed"

tools:
	@scripts/bootstrap.sh $(if $(filter test rust-test e2e bench chaos-xmpp chaos-xmpp-short chaos-cluster chaos-cluster-short,$(MAKECMDGOALS)),--browser)

## asterisk: build Asterisk (the PBX of the call-control tests) once into ~/.cache/switchboard
asterisk:
	@echo "==> Asterisk for the tests (built once, then reused: scripts/asterisk.sh)"
	@scripts/asterisk.sh >/dev/null

console: tools
	@echo "==> building the console (release wasm) and the Administration page (dist/admin/)"
	trunk build --release
	trunk build admin.html --release --dist dist/admin --public-url /admin/

lint: tools
	@echo "==> rustfmt"
	cargo fmt --all --check
	@echo "==> clippy (host)"
	cargo clippy --workspace --all-targets -- -D warnings
	@echo "==> clippy (console, wasm32)"
	cargo clippy -p switchboard-console --target wasm32-unknown-unknown -- -D warnings
	@echo "==> cargo deny (licences, banned and duplicate crates, sources; advisories: see deny.toml)"
	cargo deny --workspace check licenses bans sources

## rust-test: every Rust test on SQLite, then the server's integration tests again on a
## throwaway PostgreSQL cluster (the load generator's with_cluster starts and stops it)
rust-test: tools asterisk
	@echo "==> Rust tests"
	cargo test --workspace
	@echo "==> the server's integration tests on PostgreSQL"
	cargo build -p switchboard-loadgen --bin with_cluster
	$(CARGO_TARGET_DIR)/debug/with_cluster cargo test -p switchboard-server --tests

## chaos: 50 consoles chat 1,000 msgs/s in all (open loop) for 60 s while the server is killed
## (SIGKILL) 5 times; nothing acknowledged may be lost, duplicated, undelivered or out of order;
## prints the messages in flight at each kill. `make test` runs a 15 s form at 300 msgs/s.
CHAOS = cargo build -p switchboard-server -p switchboard-loadgen && \
	$(CARGO_TARGET_DIR)/debug/chaos --server $(SERVER_DEBUG) --clients 50
chaos: tools
	@echo "==> chaos test (60 s, 1,000 msgs/s, 5 kills)"
	$(CHAOS) --rate 1000 --seconds 60 --kills 5

chaos-short: tools
	@echo "==> chaos test (15 s, 300 msgs/s, 3 kills)"
	$(CHAOS) --rate 300 --seconds 15 --kills 3

## chaos-cluster: the chaos test across two nodes on a throwaway PostgreSQL and nats-server:
## 50 consoles spread over the nodes (reconnecting to whichever answers) chat 500 msgs/s for
## 60 s while node 1, nats-server, node 2 and nats-server again are killed (SIGKILL) and
## restarted (the debug build of two nodes and PostgreSQL on 2 cores holds about that rate).
## `make test` runs a 15 s form at 300 msgs/s (node 1, then nats-server).
chaos-cluster: tools
	@echo "==> chaos test across two nodes (60 s, 500 msgs/s; a node, NATS, the other node, NATS killed)"
	$(CHAOS) --nodes 2 --rate 500 --seconds 60 --kills 4

chaos-cluster-short: tools
	@echo "==> chaos test across two nodes (15 s, 300 msgs/s; a node, then NATS killed)"
	$(CHAOS) --nodes 2 --rate 300 --seconds 15 --kills 2

## chaos-xmpp: 20 consoles and 20 XMPP users (Prosody, scripted slixmpp clients) chat in pairs
## across the XMPP bridge, 40 msgs/s in all, for 30 s while Prosody, then Switchboard, are
## killed (SIGKILL) and restarted; every message either side acknowledged must arrive once.
## `make test` runs a 15 s form with 10 pairs.
CHAOS_XMPP = cargo build -p switchboard-server -p switchboard-loadgen && \
	$(CARGO_TARGET_DIR)/debug/chaos_xmpp --server $(SERVER_DEBUG)
chaos-xmpp: tools
	@echo "==> chaos test across the XMPP bridge (30 s, 20 pairs, Prosody and Switchboard killed)"
	$(CHAOS_XMPP) --pairs 20 --rate 40 --seconds 30

chaos-xmpp-short: tools
	@echo "==> chaos test across the XMPP bridge (15 s, 10 pairs, Prosody and Switchboard killed)"
	$(CHAOS_XMPP) --pairs 10 --rate 20 --seconds 15

## soak: 2,000 consoles (release server) for SOAK_SECONDS (10 minutes) with presence churn, chat,
## reconnects and sign-outs; the server's memory, open files, threads and tasks after a settle
## must stay within the bounds in crates/loadgen/src/bin/soak.rs, and no console may get an
## error or an unexpected close. Not part of `make test`; `make soak SOAK_SECONDS=60` to try it.
SOAK_SECONDS ?= 600
soak: tools
	cargo build --release -p switchboard-server -p switchboard-loadgen --bin switchboard-server --bin soak
	@echo "==> soak test ($(SOAK_SECONDS) s, 2,000 consoles)"
	ulimit -n $$(ulimit -Hn) && $(CARGO_TARGET_DIR)/release/soak --server $(SERVER_RELEASE) \
		--seconds $(SOAK_SECONDS)

## fuzz: cargo fuzz on the frame decoder, the server's connection loop and the XMPP stanza
## classifier (seed corpora in fuzz/corpus), then schemathesis on the OpenAPI document against
## a real server; each bounded to FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := client_frame connection xmpp_stanza
fuzz: tools
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
	for target in $(FUZZ_TARGETS); do \
		echo "==> cargo fuzz: $$target ($(FUZZ_SECONDS) s)"; \
		corpus=$$(mktemp -d) && (cd fuzz && RUSTC_BOOTSTRAP=1 \
			CARGO_TARGET_DIR=$(HOME)/.cache/switchboard/fuzz-target cargo fuzz run $$target \
			$$corpus corpus/$$target -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096); \
		status=$$?; rm -rf $$corpus; [ $$status -eq 0 ] || exit $$status; \
	done
	@echo "==> schemathesis on /api/openapi.json ($(FUZZ_SECONDS) s)"
	cargo build -p switchboard-server
	scripts/fuzz-api.sh $(SERVER_DEBUG) $(FUZZ_SECONDS)

## bench: console benchmarks (release console in Chromium: 50,000-entry directory, presence
## storm, busy lamp field with 200 calls waiting in Asterisk, 10,000-message conversation,
## memory, wasm size; tests/bench), then server benchmarks (connections held, presence fan-out,
## 1:1 chat, directory import, others' chat latency during a presence flood, XMPP, several
## nodes, calls through Asterisk), each against the release server and a
## bare WebSocket relay; medians of 3 runs into BENCHMARKS.md (~8 min).
## Not part of `make test`: the figures depend on the machine and never fail a build.
## BENCH_ARGS passes flags to the server bench (see `bench --help`), e.g. BENCH_ARGS="--runs 5".
BENCH_ARGS ?=
BENCH_BIN := $(CARGO_TARGET_DIR)/release/bench
CONSOLE_RESULTS := $(CARGO_TARGET_DIR)/console-bench.json
bench: tools asterisk console
	cargo build --release -p switchboard-server -p switchboard-loadgen
	@echo "==> console benchmarks (Playwright, Chromium; about 4 minutes)"
	SWITCHBOARD_SERVER_BIN=$(SERVER_RELEASE) SWITCHBOARD_BENCH_BIN=$(BENCH_BIN) \
		CONSOLE_BENCH_OUT=$(CONSOLE_RESULTS) npx playwright test -c playwright.bench.config.ts
	@echo "==> server benchmarks (about 10 minutes)"
	ulimit -n $$(ulimit -Hn) && BENCH_COMMAND="make bench$(if $(BENCH_ARGS), BENCH_ARGS='$(BENCH_ARGS)')" \
		$(BENCH_BIN) --server $(SERVER_RELEASE) --out BENCHMARKS.md \
		--console-results $(CONSOLE_RESULTS) $(BENCH_ARGS)

## e2e: Playwright against the real (debug) server and the release console in dist/
e2e: tools asterisk
	@echo "==> end-to-end tests (Playwright, Chromium)"
	cargo build -p switchboard-server -p switchboard-loadgen
	SWITCHBOARD_SERVER_BIN=$(SERVER_DEBUG) $(CARGO_TARGET_DIR)/debug/with_cluster npx playwright test

clean:
	rm -rf dist data test-results playwright-report
