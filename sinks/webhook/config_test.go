package webhook

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog/internal/secret"
)

// loadConfig decodes a testdata file as the config package does: unknown
// keys refused, then defaults.
func loadConfig(t *testing.T, name string) (Config, error) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "config", name))
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, err
	}
	c.SetDefaults()
	return c, c.Validate()
}

func TestConfigGood(t *testing.T) {
	for name, want := range map[string]Config{
		"good-minimal.yaml": {
			URL:     "https://hooks.example.com/sharelog",
			Secrets: secret.Ref{Env: "SHARELOG_WEBHOOK_SECRETS"},
			Mode:    ModeSingle,
			Timeout: 15 * time.Second,
		},
		"good-full.yaml": {
			URL:          "http://10.0.3.7:8080/ingest?source=sharelog",
			Secrets:      secret.Ref{File: "/etc/sharelog/webhook.secrets"},
			Mode:         ModeBatch,
			Timeout:      5 * time.Second,
			AllowHTTP:    true,
			AllowPrivate: []string{"10.0.3.7", "10.0.0.0/16", "fd00::/8", "hooks.internal"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := loadConfig(t, name)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestConfigBad(t *testing.T) {
	for name, want := range map[string][]string{
		"bad-values.yaml": {
			"url: must be an absolute http(s) URL",
			"secrets: set file or env, not both",
			`mode: "stream" must be single or batch`,
			"timeout: 10ms must be between 100ms and 10m",
			"allow_private[0]: empty",
			`allow_private[1]: "10.0.0.0/33" is not a CIDR prefix`,
			`allow_private[2]: "not a host!" is neither a host name, an IP address nor a CIDR prefix`,
		},
		"bad-missing.yaml": {
			"url: must be an absolute http(s) URL",
			"secrets: required: file (a file holding the secret) or env (the variable holding it)",
		},
		"bad-http.yaml":          {"url: must be https (set allow_http: true to send events in clear)"},
		"bad-credentials.yaml":   {"url: must not hold credentials (user:password@)"},
		"bad-relative.yaml":      {"url: must be an absolute http(s) URL", "timeout: 1h0m0s must be between 100ms and 10m"},
		"bad-secret-inline.yaml": {"yaml: unmarshal errors:", "line 3: field secret not found"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadConfig(t, name)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\nlacks %q", msg, w)
				}
			}
			if n := strings.Count(msg, "\n") + 1; n != len(want) {
				t.Errorf("%d errors, want %d:\n%s", n, len(want), msg)
			}
			if strings.Contains(msg, "hunter2") || strings.Contains(msg, "whsec_") {
				t.Errorf("error shows a secret: %s", msg)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	rc := newReceiver(t, nil)
	short := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 16))
	for _, c := range []struct {
		name    string
		secrets []string
		want    string
	}{
		{"no prefix", []string{strings.TrimPrefix(newSecret(t), "whsec_")}, "secret 1 of 1 does not start with whsec_"},
		{"not base64", []string{newSecret(t), "whsec_not*base64"}, "secret 2 of 2: the part after whsec_ is not standard base64"},
		{"too short", []string{short}, "secret 1 of 1: holds 16 bytes; Standard Webhooks secrets hold 24 to 64 random bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(testConfig(t, rc.URL, c.secrets...), Deps{})
			if err == nil || !strings.Contains(err.Error(), "webhook: secrets: "+c.want) {
				t.Fatalf("%v, want %q", err, c.want)
			}
			for _, sec := range c.secrets {
				if strings.Contains(err.Error(), strings.TrimPrefix(sec, "whsec_")) {
					t.Errorf("error shows the secret: %v", err)
				}
			}
		})
	}
	t.Run("from the environment, two for rotation", func(t *testing.T) {
		a, b := newSecret(t), newSecret(t)
		t.Setenv("TEST_WEBHOOK_SECRETS", a+", "+b)
		cfg := testConfig(t, rc.URL)
		cfg.Secrets = secret.Ref{Env: "TEST_WEBHOOK_SECRETS"}
		s := newSink(t, cfg, Deps{})
		if len(s.keys) != 2 {
			t.Fatalf("%d keys, want 2", len(s.keys))
		}
	})
	t.Run("variable unset", func(t *testing.T) {
		cfg := testConfig(t, rc.URL)
		cfg.Secrets = secret.Ref{Env: "TEST_WEBHOOK_SECRETS_UNSET"}
		if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "TEST_WEBHOOK_SECRETS_UNSET is not set") {
			t.Errorf("%v", err)
		}
	})
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{URL: "https://hooks.example.com", Mode: "stream"}, Deps{})
	if err == nil || !strings.Contains(err.Error(), "webhook: ") || !strings.Contains(err.Error(), "mode:") || !strings.Contains(err.Error(), "secrets:") {
		t.Errorf("%v", err)
	}
}
