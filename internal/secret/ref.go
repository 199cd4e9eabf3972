package secret

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Ref names secrets kept out of the configuration file: in a file (one
// secret per line, comments with #) or in an environment variable (several
// separated by commas). Exactly one of File and Env is set. Several values
// serve rotation (webhook signing secrets); a sink needing one takes the
// first.
type Ref struct {
	File string `yaml:"file"`
	Env  string `yaml:"env"`
}

// IsZero reports whether r names nothing.
func (r Ref) IsZero() bool { return r.File == "" && r.Env == "" }

// Validate says what is wrong with r, never showing a secret.
func (r Ref) Validate() error {
	switch {
	case r.File != "" && r.Env != "":
		return errors.New("set file or env, not both")
	case r.IsZero():
		return errors.New("required: file (a file holding the secret) or env (the variable holding it)")
	}
	return nil
}

// Load returns the secrets r names. Errors name the file or variable, never
// a value.
func (r Ref) Load() ([]string, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if r.File != "" {
		return ReadLines(r.File)
	}
	raw, ok := os.LookupEnv(r.Env)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("environment variable %s is not set", r.Env)
	}
	var out []string
	for _, s := range strings.Split(raw, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}
