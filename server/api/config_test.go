package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tok, sum := NewToken()
	_, sum2 := NewToken()
	cfg := Config{Tokens: []Token{
		{Name: "ok", Workspaces: []string{"ws-a", "ws:b.c_d"}, SHA256: sum},
		{Name: "", Workspaces: nil, SHA256: "abc"},
		{Name: "has space", Workspaces: []string{"*", "ws-a"}, SHA256: tok},
		{Name: "ok", Workspaces: []string{"../x"}, SHA256: sum2},
		{Name: "dup-sum", Workspaces: []string{"*"}, SHA256: strings.ToUpper(sum)},
	}}
	cfg.Stream.Compression = "gzip"
	cfg.Stream.CompressionLevel = 11
	cfg.Stream.FlushInterval = 2 * time.Second
	cfg.SetDefaults()
	err := cfg.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"tokens[1].name: is required",
		"tokens[1].sha256: must be the hex SHA-256",
		`tokens[1].workspaces: at least one workspace id, or "*"`,
		`tokens[2].name: "has space" must be`,
		"tokens[2].sha256: holds a token, not its SHA-256",
		`tokens[2].workspaces: "*" (every workspace) stands alone`,
		`tokens[3].workspaces: "../x" is not a workspace id`,
		"tokens[4].sha256: the same digest as tokens[0]",
		`stream.compression: "gzip" is not "deflate" or "off"`,
		"stream.flush_interval: 2s is not between 1ms and 1s",
		"stream.compression_level: 11 is not between 1 and 9",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), tok[4:20]) {
		t.Errorf("the error shows the token:\n%v", err)
	}
	var d Config
	d.SetDefaults()
	if !d.Stream.Compress() || d.Stream.Compression != "deflate" || d.Stream.CompressionLevel != 6 {
		t.Errorf("stream.compression default %q", d.Stream.Compression)
	}
	if cfg.MaxInFlight != 16 {
		t.Errorf("max_in_flight default %d", cfg.MaxInFlight)
	}
}

func TestTokensFile(t *testing.T) {
	_, sum1 := NewToken()
	_, sum2 := NewToken()
	path := filepath.Join(t.TempDir(), "api.tokens")
	os.WriteFile(path, []byte("# name sha256 workspaces\n\nsoc "+sum1+" *\n  acme-export "+sum2+" ws-acme,ws-acme-eu  \n"), 0o600)
	cfg := Config{TokensFile: path, Tokens: []Token{{Name: "cfg", Workspaces: []string{"ws-x"}, SHA256: strings.Repeat("ab", 32)}}}
	tokens, err := cfg.LoadTokens()
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 3 || tokens[1].Name != "soc" || tokens[1].Workspaces[0] != "*" ||
		tokens[2].Name != "acme-export" || len(tokens[2].Workspaces) != 2 || tokens[2].Workspaces[1] != "ws-acme-eu" {
		t.Fatalf("%+v", tokens)
	}

	for content, want := range map[string]string{
		"soc " + sum1 + "\n":                         "api.tokens:1: want NAME SHA256HEX WORKSPACES",
		"\nsoc " + sum1 + " *\ncfg " + sum2 + " *\n": `api.tokens:3: token.name: "cfg" is also the name of tokens[0]`,
		"soc nothex ws\n":                            "api.tokens:1: token.sha256: must be",
	} {
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := cfg.LoadTokens(); err == nil || !strings.Contains(err.Error(), "tokens_file: "+filepath.Dir(path)) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v; want %q", content, err, want)
		}
	}
	cfg.TokensFile = filepath.Join(t.TempDir(), "missing")
	if _, err := cfg.LoadTokens(); err == nil || !strings.HasPrefix(err.Error(), "tokens_file: ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestAuthenticator(t *testing.T) {
	a1, s1 := NewToken()
	a2, s2 := NewToken()
	auth, err := NewAuthenticator([]Token{
		{Name: "one", Workspaces: []string{"ws-b", "ws-a", "ws-b"}, SHA256: s1},
		{Name: "every", Workspaces: []string{"*"}, SHA256: strings.ToUpper(s2)},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.Authenticate("Bearer " + a1)
	if err != nil || p.Name != "one" || p.All || strings.Join(p.Workspaces, ",") != "ws-a,ws-b" || !p.Allows("ws-a") || p.Allows("ws-c") {
		t.Fatalf("%+v %v", p, err)
	}
	p, err = auth.Authenticate("BEARER  " + a2 + " ")
	if err != nil || p.Name != "every" || !p.All || !p.Allows("anything") {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := auth.Authenticate("Bearer " + a1 + "x"); err != ErrBadToken {
		t.Fatalf("err = %v", err)
	}
	if _, err := auth.Authenticate("Token " + a1); err != ErrNoToken {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(a1, TokenPrefix) || len(a1) != len(TokenPrefix)+64 || Digest(a1) != s1 {
		t.Fatalf("token %q digest %q", a1, s1)
	}
	if _, err := NewAuthenticator(nil); err == nil {
		t.Fatal("no tokens accepted")
	}
}
