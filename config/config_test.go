package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadFiles(t *testing.T) {
	for _, tc := range []struct {
		file    string
		wantErr []string // every fragment must appear; empty: valid
	}{
		{"good-minimal.yaml", nil},
		{"good-full.yaml", nil},
		{"../../deploy/sharelog.example.yaml", nil}, // the documented example stays valid
		{"bad-unknown-key.yaml", []string{"field brokerz not found"}},
		{"bad-values.yaml", []string{
			"rules[0].window: 200h0m0s must be between 0 and 168h", `rules[1].type: "geo_fence" is not a rule type`,
			`http.addr: "8080" is not host:port`,
			`kafka.brokers[0]: "kafka-1" is not host:port`,
			"kafka.partitions: -3 is not between 1 and 10000",
			"ingest.keys[0]: is 5 bytes, shorter than 16",
			"enrich.workers: -1 is not between 1 and 256",
			"enrich.session.timeout: 10s is not between 1m and 24h",
			"geoip.city_db[0]: must not be empty",
			`log.level: "loud" is not one of`,
			"api.tokens[0].sha256: holds a token, not its SHA-256",
			"api.max_in_flight: -2 must be at least 1",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cfg, _, err := Load(filepath.Join("testdata", tc.file), nil)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.HTTP.Addr == "" || cfg.Kafka.TopicPrefix == "" || cfg.Enrich.Session.Timeout == 0 || cfg.API.MaxInFlight == 0 {
					t.Fatalf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid configuration accepted")
			}
			for _, frag := range tc.wantErr {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error lacks %q:\n%v", frag, err)
				}
			}
			if strings.Contains(err.Error(), "short]") || strings.Contains(err.Error(), "this-is-a-token") {
				t.Error("error shows a key's value")
			}
		})
	}
}

func TestDefaultsWithNoFile(t *testing.T) {
	cfg, _, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "./data" || cfg.HTTP.Addr != "127.0.0.1:8080" || cfg.Kafka.Embedded.Addr != "127.0.0.1:9092" ||
		cfg.Kafka.Topics().Raw != "sharelog.raw" || cfg.Kafka.Topics().DLQ != "sharelog.dlq" || cfg.Kafka.Group("enrich") != "sharelog-enrich" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	env := []string{
		"SHARELOG_HTTP_ADDR=0.0.0.0:9000",
		"SHARELOG_KAFKA_BROKERS=k1:9092, k2:9092",
		"SHARELOG_INGEST_KEYS=aaaaaaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbbbbbbbb",
		"SHARELOG_INGEST_KEYS_FILE=",
		"SHARELOG_GEOIP_CITY_DB=/a.mmdb,/b.mmdb",
		"SHARELOG_DATA_DIR=/var/lib/x",
		"SHARELOG_KAFKA_EMBEDDED_ADDR=127.0.0.1:19092",
		"SHARELOG_ENRICH_SESSION_TIMEOUT=45m",
		"SHARELOG_KAFKA_PARTITIONS=6",
		"SHARELOG_TYPO_KEY=1",
		"SHARELOG_TEST_WHATEVER=1",
		"HOME=/root",
	}
	cfg, warnings, err := Load(filepath.Join("testdata", "good-full.yaml"), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "0.0.0.0:9000" || len(cfg.Kafka.Brokers) != 2 || cfg.Kafka.Brokers[1] != "k2:9092" ||
		len(cfg.Ingest.Keys) != 2 || len(cfg.GeoIP.CityDB) != 2 || cfg.DataDir != "/var/lib/x" ||
		cfg.Kafka.Embedded.Addr != "127.0.0.1:19092" || cfg.Enrich.Session.Timeout != 45*time.Minute || cfg.Kafka.Partitions != 6 {
		t.Fatalf("overrides not applied: %+v", cfg)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "SHARELOG_TYPO_KEY") {
		t.Fatalf("warnings = %q", warnings)
	}
}

func TestEnvironmentOverrideErrorsNameTheField(t *testing.T) {
	_, _, err := Load("", []string{"SHARELOG_KAFKA_PARTITIONS=many", "SHARELOG_KAFKA_LINGER=soon"})
	if err == nil || !strings.Contains(err.Error(), "kafka.partitions (from SHARELOG_KAFKA_PARTITIONS)") ||
		!strings.Contains(err.Error(), "kafka.linger (from SHARELOG_KAFKA_LINGER)") {
		t.Fatalf("err = %v", err)
	}
}

func TestEveryKeyHasAVariable(t *testing.T) {
	keys := Keys()
	seen := map[string]string{}
	for _, k := range keys {
		v := Env(k)
		if other, dup := seen[v]; dup {
			t.Errorf("%s and %s share %s", k, other, v)
		}
		seen[v] = k
	}
	for _, want := range []string{"SHARELOG_HTTP_ADDR", "SHARELOG_KAFKA_BROKERS", "SHARELOG_INGEST_KEYS", "SHARELOG_GEOIP_CITY_DB", "SHARELOG_DATA_DIR", "SHARELOG_KAFKA_EMBEDDED_ADDR", "SHARELOG_API_TOKENS_FILE", "SHARELOG_API_MAX_IN_FLIGHT"} {
		if seen[want] == "" {
			t.Errorf("no key for %s", want)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestAPISection(t *testing.T) {
	cfg, _, err := Load(filepath.Join("testdata", "good-full.yaml"), []string{"SHARELOG_API_TOKENS_FILE=/run/secrets/api.tokens"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.API.Tokens) != 2 || cfg.API.Tokens[0].Workspaces[0] != "*" || cfg.API.Tokens[1].Workspaces[1] != "ws-acme-eu" ||
		cfg.API.TokensFile != "/run/secrets/api.tokens" {
		t.Fatalf("api: %+v", cfg.API)
	}
}
