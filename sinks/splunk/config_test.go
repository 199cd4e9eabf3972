package splunk

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// loadConfig decodes a configuration file as the config package does
// (unknown fields refused) and applies the defaults.
func loadConfig(path string) (Config, error) {
	var cfg Config
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return cfg, err
	}
	cfg.SetDefaults()
	return cfg, nil
}

func TestConfigGood(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := loadConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
	cfg, _ := loadConfig("testdata/config/good/full.yaml")
	want := Config{URL: "https://splunk.example.com:8088", Index: "sharelog-access", Source: "sharelog-eu", Sourcetype: "sharelog:event", Host: "sharelog-eu-1",
		Gzip: true, Ack: true, AckTimeout: 45 * time.Second, AckPollInterval: 2 * time.Second, TLS: TLSConfig{CAFile: "/etc/sharelog/splunk-ca.pem"}}
	want.Token.File = "/etc/sharelog/splunk-hec.token"
	if cfg != want {
		t.Errorf("full.yaml:\n%+v\nwant\n%+v", cfg, want)
	}
	cfg, _ = loadConfig("testdata/config/good/minimal.yaml")
	if cfg.Source != DefaultSource || cfg.Sourcetype != DefaultSourcetype || cfg.Host == "" || cfg.AckTimeout != DefaultAckTimeout || cfg.AckPollInterval != DefaultAckPollInterval || cfg.Gzip || cfg.Ack {
		t.Errorf("minimal.yaml defaults: %+v", cfg)
	}
}

var wantRE = regexp.MustCompile(`(?m)^# want: (.+)$`)

func TestConfigBad(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			wants := wantRE.FindAllStringSubmatch(string(data), -1)
			if len(wants) == 0 {
				t.Fatal("no '# want:' line")
			}
			cfg, err := loadConfig(f)
			decoded := err == nil
			if decoded {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w[1]) {
					t.Errorf("error\n%v\ndoes not say %q", err, w[1])
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; decoded && n != len(wants) {
				t.Errorf("%d errors for %d wanted:\n%v", n, len(wants), err)
			}
		})
	}
}
