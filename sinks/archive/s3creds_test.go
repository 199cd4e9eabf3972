package archive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sharelog/sharelog/internal/secret"
)

// TestS3CredentialsFromSecrets: the static keys of an s3:// archive come
// from secret references ({env:}, {file:}), without the caller's
// objstore.Options, and the sink archives with them on a real S3 server.
func TestS3CredentialsFromSecrets(t *testing.T) {
	f := newS3Fixture(t)
	t.Setenv("TEST_ARCHIVE_AK", f.opts.AccessKeyID)
	keyFile := filepath.Join(t.TempDir(), "s3.secret")
	if err := os.WriteFile(keyFile, []byte(f.opts.SecretAccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cfg.S3 = S3Credentials{AccessKeyID: secret.Ref{Env: "TEST_ARCHIVE_AK"}, SecretAccessKey: secret.Ref{File: keyFile}}
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(f.cfg, Deps{Conn: f.conn})
	if err != nil {
		t.Fatal(err)
	}
	ids := f.produce(t, 50)
	stop := run(t, s)
	defer stop()
	for deadline := time.Now().Add(60 * time.Second); len(archivedObjects(t, f.store)) != len(ids); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events archived with the configured keys", len(archivedObjects(t, f.store)), len(ids))
		}
	}
}

// TestS3CredentialsConfig: both keys or neither, only for s3://, and a
// key that cannot be read is named without its value.
func TestS3CredentialsConfig(t *testing.T) {
	base := Config{URL: "s3://logs/archive?region=us-east-1"}
	base.SetDefaults(t.TempDir())
	for _, tc := range []struct {
		name string
		url  string
		s3   S3Credentials
		want string
	}{
		{"only the id", base.URL, S3Credentials{AccessKeyID: secret.Ref{Env: "X"}}, "s3.secret_access_key: required"},
		{"a file archive", "", S3Credentials{AccessKeyID: secret.Ref{Env: "X"}, SecretAccessKey: secret.Ref{Env: "Y"}}, "s3: static credentials are for an s3:// url"},
	} {
		c := base
		if tc.url == "" {
			c = Config{}
			c.SetDefaults(t.TempDir())
		}
		c.S3 = tc.s3
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want …%s…", tc.name, err, tc.want)
		}
	}
	c := base
	c.S3 = S3Credentials{AccessKeyID: secret.Ref{Env: "TEST_ARCHIVE_UNSET_AK"}, SecretAccessKey: secret.Ref{Env: "TEST_ARCHIVE_UNSET_SK"}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	_, err := New(c, Deps{Conn: newFixture(t).conn})
	if err == nil || !strings.Contains(err.Error(), "s3.access_key_id: environment variable TEST_ARCHIVE_UNSET_AK is not set") {
		t.Fatalf("%v", err)
	}
}
