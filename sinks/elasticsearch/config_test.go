package elasticsearch

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestConfigFiles: every testdata/config/good-*.yaml is valid once
// defaulted; every bad-*.yaml fails with each "# want: " line in the error.
func TestConfigFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal("no config files", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, l := range strings.Split(string(raw), "\n") {
				if w, ok := strings.CutPrefix(l, "# want: "); ok {
					want = append(want, w)
				}
			}
			var cfg Config
			dec := yaml.NewDecoder(bytes.NewReader(raw))
			dec.KnownFields(true)
			err = dec.Decode(&cfg)
			if err == nil {
				cfg.SetDefaults()
				err = cfg.Validate()
			}
			good := strings.HasPrefix(filepath.Base(path), "good-")
			switch {
			case good && err != nil:
				t.Fatalf("want valid: %v", err)
			case !good && err == nil:
				t.Fatal("want an error")
			case !good && len(want) == 0:
				t.Fatalf("no '# want: ' line; the error is %v", err)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.Mode != ModeIndex || c.Index != DefaultIndex || c.DataStream != "" || c.Compression != CompressionNone {
		t.Errorf("defaults: %+v", c)
	}
	c = Config{Mode: ModeDataStream}
	c.SetDefaults()
	if c.DataStream != DefaultDataStream || c.Index != "" {
		t.Errorf("data stream defaults: %+v", c)
	}
}

func TestTemplates(t *testing.T) {
	at := time.Date(2026, 3, 7, 5, 4, 0, 0, time.FixedZone("x", -8*3600)) // 13:04 UTC
	for _, c := range []struct {
		pattern, access, audit string
	}{
		{"sharelog-{yyyy.MM.dd}", "sharelog-2026.03.07", "sharelog-2026.03.07"},
		{"sharelog-{dataset}-{yyyy-MM}", "sharelog-access-2026-03", "sharelog-audit-2026-03"},
		{"sharelog-{yyyy.MM.dd.HH}", "sharelog-2026.03.07.13", "sharelog-2026.03.07.13"},
		{"{yyyy}{MM}{dd}_{HH}", "20260307_13", "20260307_13"},
		{"{dataset}", "access", "audit"},
		{"sharelog", "sharelog", "sharelog"},
		{"journal-d'accès-{yyyy}", "journal-d'accès-2026", "journal-d'accès-2026"},
	} {
		tp, err := parseTemplate(c.pattern, false)
		if err != nil {
			t.Errorf("%s: %v", c.pattern, err)
			continue
		}
		if got := tp.expand(at, DatasetAccess); got != c.access {
			t.Errorf("%s: access %q, want %q", c.pattern, got, c.access)
		}
		if got := tp.expand(at, DatasetAudit); got != c.audit {
			t.Errorf("%s: audit %q, want %q", c.pattern, got, c.audit)
		}
		if n := len(tp.expand(at, DatasetAccess)); n > tp.maxLen {
			t.Errorf("%s: %d bytes, over maxLen %d", c.pattern, n, tp.maxLen)
		}
	}
	for pattern, want := range map[string]string{
		"":                                     "is empty",
		"a{}":                                  "is empty",
		"a}":                                   "} without {",
		"a{dd":                                 "unclosed {",
		"a-{yy}":                               "is neither",
		"a-{DATASET}":                          "is neither",
		"a b":                                  "must not contain",
		"a#b":                                  "must not contain",
		"a:b":                                  "must not contain",
		"-a":                                   "must not start with",
		"+a":                                   "must not start with",
		"..":                                   "is not a name",
		"a\x01":                                "control character",
		strings.Repeat("x", 250) + "{yyyy.MM}": "over Elasticsearch's limit of 255",
	} {
		if _, err := parseTemplate(pattern, false); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", pattern, err, want)
		}
	}
	if _, err := parseTemplate(".ds-logs", true); err == nil {
		t.Error(".ds- accepted for a data stream")
	}
	if _, err := parseTemplate("logs-sharelog-{dd}", true); err == nil {
		t.Error("a date accepted for a data stream")
	}
}

func TestDataStreamFields(t *testing.T) {
	for name, want := range map[string][3]string{
		"logs-sharelog-default":        {"logs", "sharelog", "default"},
		"logs-sharelog.access-prod_eu": {"logs", "sharelog.access", "prod_eu"},
	} {
		typ, ds, ns, ok := dataStreamFields(name)
		if !ok || [3]string{typ, ds, ns} != want {
			t.Errorf("%s: %s %s %s %v", name, typ, ds, ns, ok)
		}
	}
	for _, name := range []string{"sharelog", "sharelog-events", "logs-my-app-default", "logs--default"} {
		if _, _, _, ok := dataStreamFields(name); ok {
			t.Errorf("%s: fields, want none", name)
		}
	}
}
