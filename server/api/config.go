package api

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/server/stream"
)

// Config configures the query API.
type Config struct {
	// Tokens are the accepted API tokens. The configuration holds only the
	// SHA-256 of each token, never the token: `sharelog token` makes one and
	// prints both. Empty, with no TokensFile either: the api role generates
	// one all-workspaces token into <data_dir>/api.token and prints it once.
	Tokens []Token `yaml:"tokens"`
	// TokensFile holds more tokens, one a line: NAME SHA256HEX WS1,WS2 (or
	// * for every workspace); blank lines and lines starting with # are
	// skipped. It is read when the api role starts.
	TokensFile string `yaml:"tokens_file"`
	// MaxInFlight limits concurrent queries (a CSV export holds its slot
	// until it is done); more are answered 429. Default 16.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInFlightPerToken limits the concurrent queries of one token, so
	// that one tenant (16 CSV exports nobody reads) cannot hold every slot
	// of max_in_flight; more are answered 429. Default: a quarter of
	// max_in_flight, at least 1 (4 of the default 16).
	MaxInFlightPerToken int `yaml:"max_in_flight_per_token"`
	// WriteTimeout bounds each write of an answer to the client (a CSV
	// export, a JSON page, a link report): the deadline moves forward as
	// the client reads, so a long export is fine, but a client that stops
	// reading for this long is cut off (the connection is closed, the
	// answer left incomplete), logged and counted in
	// sharelog_api_slow_readers_total. Default 30s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// Stream configures the live stream, GET /v1/stream.
	Stream stream.Config `yaml:"stream"`
}

// Token is one API token: who it is (Name, for logs and metrics), the
// workspaces it may read, and the SHA-256 of its value.
type Token struct {
	Name string `yaml:"name"`
	// Workspaces are the workspace ids the token may read; ["*"]: every
	// workspace.
	Workspaces []string `yaml:"workspaces"`
	// SHA256 is the hex SHA-256 of the token (64 characters).
	SHA256 string `yaml:"sha256"`
}

// AllWorkspaces is the Workspaces entry of a token that may read every
// workspace.
const AllWorkspaces = "*"

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 16
	}
	if c.MaxInFlightPerToken == 0 {
		c.MaxInFlightPerToken = max(1, c.MaxInFlight/4)
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	c.Stream.SetDefaults()
}

// Validate reports every wrong field. Token values never appear in errors
// (the configuration holds none; a field that looks like one is refused
// without being shown).
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, validateTokens(c.Tokens, func(i int) string { return fmt.Sprintf("tokens[%d]", i) }))
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max_in_flight: %d must be at least 1", c.MaxInFlight))
	}
	if c.MaxInFlightPerToken < 1 || c.MaxInFlight >= 1 && c.MaxInFlightPerToken > c.MaxInFlight {
		errs = append(errs, fmt.Errorf("max_in_flight_per_token: %d is not between 1 and max_in_flight (%d)", c.MaxInFlightPerToken, c.MaxInFlight))
	}
	if c.WriteTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("write_timeout: %s is under 1ms", c.WriteTimeout))
	}
	errs = append(errs, cfgerr.Prefix("stream", c.Stream.Validate()))
	return errors.Join(errs...)
}

// validateTokens checks each token and that no name or digest is used twice;
// where names each token in errors.
func validateTokens(tokens []Token, where func(i int) string) error {
	var errs []error
	names, sums := map[string]int{}, map[string]int{}
	for i, t := range tokens {
		if err := t.validate(); err != nil {
			for _, e := range unjoin(err) {
				errs = append(errs, fmt.Errorf("%s.%w", where(i), e))
			}
			continue
		}
		if j, dup := names[t.Name]; dup {
			errs = append(errs, fmt.Errorf("%s.name: %q is also the name of %s", where(i), t.Name, where(j)))
		}
		if j, dup := sums[strings.ToLower(t.SHA256)]; dup {
			errs = append(errs, fmt.Errorf("%s.sha256: the same digest as %s", where(i), where(j)))
		}
		names[t.Name], sums[strings.ToLower(t.SHA256)] = i, i
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (t Token) validate() error {
	var errs []error
	switch {
	case t.Name == "":
		errs = append(errs, errors.New("name: is required"))
	case len(t.Name) > 64 || strings.ContainsFunc(t.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		errs = append(errs, fmt.Errorf("name: %q must be at most 64 characters, without spaces", truncate(t.Name)))
	}
	switch {
	case strings.HasPrefix(t.SHA256, TokenPrefix):
		// Never echo it: it is a token, pasted where its digest belongs.
		errs = append(errs, errors.New("sha256: holds a token, not its SHA-256; put only the digest that `sharelog token` prints in the configuration, and make a new token (this one is exposed)"))
	case len(t.SHA256) != 64 || !isHex(t.SHA256):
		errs = append(errs, errors.New("sha256: must be the hex SHA-256 of the token (64 characters), as `sharelog token` prints it"))
	}
	if err := CheckWorkspaces(t.Workspaces); err != nil {
		errs = append(errs, fmt.Errorf("workspaces: %w", err))
	}
	return errors.Join(errs...)
}

// CheckWorkspaces checks the workspace list of a token: at least one entry,
// each a workspace id, or "*" alone.
func CheckWorkspaces(list []string) error {
	if len(list) == 0 {
		return errors.New(`at least one workspace id, or "*" for every workspace`)
	}
	for _, ws := range list {
		if ws == AllWorkspaces {
			if len(list) > 1 {
				return errors.New(`"*" (every workspace) stands alone`)
			}
			continue
		}
		if !validWorkspaceID(ws) {
			return fmt.Errorf("%q is not a workspace id (letters, digits, _ - . :)", truncate(ws))
		}
	}
	return nil
}

// validWorkspaceID mirrors what event validation admits as workspace.id.
func validWorkspaceID(ws string) bool {
	if ws == "" || len(ws) > 128 || strings.Contains(ws, "..") {
		return false
	}
	for i := range len(ws) {
		b := ws[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.' || b == ':') {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// LoadTokens returns the configured tokens followed by those of
// TokensFile, validated together. Errors name the field path under api
// ("tokens_file: /etc/sharelog/api.tokens:3: …").
func (c Config) LoadTokens() ([]Token, error) {
	tokens := append([]Token(nil), c.Tokens...)
	if c.TokensFile == "" {
		return tokens, nil
	}
	data, err := os.ReadFile(c.TokensFile)
	if err != nil {
		return nil, fmt.Errorf("tokens_file: %w", err)
	}
	fileTokens, lines, err := ParseTokensFile(data)
	if err != nil {
		return nil, fmt.Errorf("tokens_file: %s:%w", c.TokensFile, err)
	}
	n := len(tokens)
	tokens = append(tokens, fileTokens...)
	if err := validateTokens(tokens, func(i int) string {
		if i < n {
			return fmt.Sprintf("tokens[%d]", i)
		}
		return fmt.Sprintf("tokens_file: %s:%d: token", c.TokensFile, lines[i-n])
	}); err != nil {
		return nil, err
	}
	return tokens, nil
}

// ParseTokensFile reads lines of NAME SHA256HEX WORKSPACES (comma-separated
// ids, or *), and returns the tokens with the line number of each. It
// checks the shape of the lines only; LoadTokens validates the tokens.
func ParseTokensFile(data []byte) ([]Token, []int, error) {
	var (
		tokens []Token
		lines  []int
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, nil, fmt.Errorf("%d: want NAME SHA256HEX WORKSPACES (3 fields), have %d", n, len(f))
		}
		tokens = append(tokens, Token{Name: f[0], SHA256: f[1], Workspaces: SplitList([]string{f[2]})})
		lines = append(lines, n)
	}
	return tokens, lines, sc.Err()
}

// SplitList splits every value at commas, trims the parts and drops empty
// ones: "a,b" and "c" give a, b, c.
func SplitList(values []string) []string {
	var out []string
	for _, v := range values {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
