package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// TokenPrefix starts every token sharelog makes, so that a token is
// recognisable where it should not be (a configuration file, a log).
const TokenPrefix = "slt_"

// NewToken returns a new random token (TokenPrefix and 32 random bytes in
// hex) and its digest, the hex SHA-256 that the configuration holds.
func NewToken() (token, digest string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	token = TokenPrefix + hex.EncodeToString(b[:])
	return token, Digest(token)
}

// Digest is the hex SHA-256 of a token.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Principal is who an authenticated request acts for.
type Principal struct {
	// Name is the token's name (never its value).
	Name string
	// All is set for a token that may read every workspace.
	All bool
	// Workspaces are the workspaces it may read, sorted, when not All.
	Workspaces []string

	index int // the token's position in the Authenticator (per-token limits)
}

// Allows reports whether p may read the events of workspace ws.
func (p *Principal) Allows(ws string) bool {
	if p.All {
		return true
	}
	_, found := slices.BinarySearch(p.Workspaces, ws)
	return found
}

// Authentication errors. Neither says anything about the token presented.
var (
	ErrNoToken  = errors.New("api: no bearer token")
	ErrBadToken = errors.New("api: the bearer token is not valid")
)

// Authenticator maps bearer tokens to principals. It is immutable and safe
// for concurrent use.
type Authenticator struct {
	tokens []authToken
}

type authToken struct {
	sum       [sha256.Size]byte
	principal Principal
}

// count is the number of tokens; Principal.index is below it.
func (a *Authenticator) count() int { return len(a.tokens) }

// NewAuthenticator returns an authenticator accepting tokens (validated
// first; at least one).
func NewAuthenticator(tokens []Token) (*Authenticator, error) {
	if len(tokens) == 0 {
		return nil, errors.New("api: no tokens")
	}
	if err := validateTokens(tokens, func(i int) string { return fmt.Sprintf("tokens[%d]", i) }); err != nil {
		return nil, err
	}
	a := &Authenticator{}
	for _, t := range tokens {
		var at authToken
		_, _ = hex.Decode(at.sum[:], []byte(strings.ToLower(t.SHA256)))
		at.principal = Principal{Name: t.Name}
		if len(t.Workspaces) == 1 && t.Workspaces[0] == AllWorkspaces {
			at.principal.All = true
		} else {
			ws := slices.Clone(t.Workspaces)
			slices.Sort(ws)
			at.principal.Workspaces = slices.Compact(ws)
		}
		a.tokens = append(a.tokens, at)
	}
	return a, nil
}

// Authenticate returns the principal of an Authorization header value
// ("Bearer <token>"). The token's SHA-256 is compared with every known
// digest in constant time, so neither the time taken nor the error says
// which token, or which part of one, came close.
func (a *Authenticator) Authenticate(header string) (*Principal, error) {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return nil, ErrNoToken
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(header[len(prefix):])))
	found := -1
	for i := range a.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return nil, ErrBadToken
	}
	p := a.tokens[found].principal
	p.index = found
	return &p, nil
}
