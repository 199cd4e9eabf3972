// Package secret reads secrets from files and creates the ones sharelog
// generates for itself (the first ingest key, the session key) in the data
// directory, readable by the owner only. Secret values are never logged.
package secret

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReadLines returns the non-empty, non-comment lines of the file at path,
// trimmed.
func ReadLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no secret", path)
	}
	return out, nil
}

// LoadOrCreate returns the secret kept in path, or, when the file does not
// exist, creates it (mode 0600, its directory 0700) with prefix followed by
// nbytes random bytes in hex, and reports created. Two processes racing to
// create it end with the same value: the file is created exclusively.
func LoadOrCreate(path, prefix string, nbytes int) (value string, created bool, err error) {
	if lines, err := ReadLines(path); err == nil {
		return lines[0], false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, err
	}
	buf := make([]byte, nbytes)
	if _, err := rand.Read(buf); err != nil {
		return "", false, err
	}
	value = prefix + hex.EncodeToString(buf)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // lost the race: use the winner's
		lines, err := ReadLines(path)
		if err != nil {
			return "", false, err
		}
		return lines[0], false, nil
	}
	if err != nil {
		return "", false, err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, err
	}
	return value, true, f.Close()
}
