package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ingest.key")
	v1, created, err := LoadOrCreate(path, "slk_", 16)
	if err != nil || !created || !strings.HasPrefix(v1, "slk_") || len(v1) != 4+32 {
		t.Fatalf("first: %q %v %v", v1, created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, err %v; want 0600", st.Mode().Perm(), err)
	}
	v2, created, err := LoadOrCreate(path, "slk_", 16)
	if err != nil || created || v2 != v1 {
		t.Fatalf("second: %q %v %v, want %q not created", v2, created, err, v1)
	}
}

func TestReadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	os.WriteFile(path, []byte("# ingest keys\n key-one \n\nkey-two\n"), 0o600)
	got, err := ReadLines(path)
	if err != nil || len(got) != 2 || got[0] != "key-one" || got[1] != "key-two" {
		t.Fatalf("got %q, %v", got, err)
	}
	os.WriteFile(path, []byte("# nothing\n"), 0o600)
	if _, err := ReadLines(path); err == nil || !strings.Contains(err.Error(), "holds no secret") {
		t.Fatalf("empty file: %v", err)
	}
}

func TestRef(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	os.WriteFile(path, []byte("# rotation\nwhsec_new\nwhsec_old\n"), 0o600)
	got, err := Ref{File: path}.Load()
	if err != nil || len(got) != 2 || got[0] != "whsec_new" {
		t.Fatalf("file: %v %v", got, err)
	}
	t.Setenv("SHARELOG_TEST_SECRET", " a , b,")
	got, err = Ref{Env: "SHARELOG_TEST_SECRET"}.Load()
	if err != nil || len(got) != 2 || got[1] != "b" {
		t.Fatalf("env: %v %v", got, err)
	}
	for _, bad := range []Ref{{}, {File: path, Env: "X"}, {Env: "SHARELOG_TEST_UNSET_VAR"}, {File: filepath.Join(dir, "missing")}} {
		if _, err := bad.Load(); err == nil || strings.Contains(err.Error(), "whsec") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
