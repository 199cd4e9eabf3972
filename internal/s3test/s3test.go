// Package s3test starts a real S3-compatible server for tests: SeaweedFS
// (Apache-2.0), its `weed server` with the S3 gateway, fresh for each test,
// on free loopback ports, in the test's temporary directory.
//
// The weed binary comes from $SHARELOG_TEST_WEED, else from
// .cache/seaweed/weed at the repository's root (scripts/seaweedfs-up
// --build-only builds it there). Without one the test is skipped, or fails
// when SHARELOG_TEST_REQUIRE_S3=1.
package s3test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The credentials and bucket of every server Start starts.
const (
	AccessKey = "sharelog"
	SecretKey = "sharelog-test-secret"
	Bucket    = "sharelog-test"
	Region    = "us-east-1"
)

// startTimeout bounds the wait for the S3 gateway to answer.
const startTimeout = 90 * time.Second

// Weed returns the path of the weed binary to use, or "" if there is none.
func Weed() string {
	if p := os.Getenv("SHARELOG_TEST_WEED"); p != "" {
		return p
	}
	root, err := repoRoot()
	if err != nil {
		return ""
	}
	p := filepath.Join(root, ".cache", "seaweed", "weed")
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return ""
	}
	return p
}

// Start starts a fresh SeaweedFS server with one empty bucket and stops it
// when the test ends. endpoint is "http://127.0.0.1:<port>"; use path-style
// addressing. An s3:// URL for it: URL(endpoint, bucket, prefix).
func Start(t testing.TB) (endpoint, bucket, accessKey, secretKey string) {
	t.Helper()
	weed := Weed()
	if weed == "" {
		msg := "no SeaweedFS weed binary: set SHARELOG_TEST_WEED or run scripts/seaweedfs-up --build-only"
		if os.Getenv("SHARELOG_TEST_REQUIRE_S3") == "1" {
			t.Fatal(msg + " (SHARELOG_TEST_REQUIRE_S3=1)")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	ports, err := freePorts(8)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	cfg := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(cfg, []byte(Config(AccessKey, SecretKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	args := Args(data, cfg, ports)
	logPath := filepath.Join(dir, "weed.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(weed, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("s3test: start %s: %v", weed, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		// SIGKILL: its data is thrown away with the test's directory, and
		// weed's graceful shutdown takes about half a minute.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	t.Cleanup(stop)

	endpoint = "http://127.0.0.1:" + strconv.Itoa(ports[6])
	client := Client(endpoint, AccessKey, SecretKey)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket)})
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			exited <- werr
			stop()
			t.Fatalf("s3test: weed exited (%v) before its S3 gateway answered; log:\n%s", werr, tail(logPath))
		case <-ctx.Done():
			stop()
			t.Fatalf("s3test: S3 gateway at %s did not accept CreateBucket within %s: %v; log:\n%s", endpoint, startTimeout, err, tail(logPath))
		case <-time.After(200 * time.Millisecond):
		}
	}
	return endpoint, Bucket, AccessKey, SecretKey
}

// URL is the s3:// URL of prefix in bucket on a Start-ed server (static
// credentials go in objstore.Options, not in the URL).
func URL(endpoint, bucket, prefix string) string {
	u := "s3://" + bucket
	if prefix != "" {
		u += "/" + strings.Trim(prefix, "/")
	}
	return u + "?endpoint=" + endpoint + "&region=" + Region + "&use_path_style=true"
}

// Client is an S3 client for a Start-ed server.
func Client(endpoint, accessKey, secretKey string) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:   &http.Client{Timeout: 10 * time.Second},
	})
}

// Config is weed's -s3.config: one identity with every permission.
func Config(accessKey, secretKey string) string {
	return fmt.Sprintf(`{"identities":[{"name":"sharelog","credentials":[{"accessKey":%q,"secretKey":%q}],`+
		`"actions":["Admin","Read","List","Tagging","Write"]}]}`, accessKey, secretKey)
}

// Args are `weed server`'s arguments for a single-node master + volume +
// filer + S3 gateway on 127.0.0.1: ports are master, volume, filer, their
// gRPC ports, then S3 and its gRPC port (the S3 endpoint is ports[6]).
// The Iceberg and Lance catalogues and telemetry are off.
func Args(dataDir, s3Config string, ports []int) []string {
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	return []string{
		"server",
		"-dir=" + dataDir,
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + p(0), "-master.port.grpc=" + p(3),
		"-master.telemetry=false",
		"-master.volumeSizeLimitMB=64",
		"-volume.port=" + p(1), "-volume.port.grpc=" + p(4),
		"-volume.max=0",
		"-filer", "-filer.port=" + p(2), "-filer.port.grpc=" + p(5),
		"-filer.localSocket=" + filepath.Join(dataDir, "filer.sock"),
		"-s3", "-s3.port=" + p(6), "-s3.port.grpc=" + p(7),
		"-s3.localSocket=" + filepath.Join(dataDir, "s3.sock"),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config=" + s3Config,
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1 (held open
// together while picking, so they differ; weed binds them right after).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		port := l.Addr().(*net.TCPAddr).Port
		if port > 55535 {
			// weed would add 10000 for an unset gRPC port; keep room anyway.
			continue
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// repoRoot is the directory of the main module's go.mod, found upwards from
// the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			line, _, _ := bytes.Cut(b, []byte("\n"))
			if strings.TrimSpace(string(line)) == "module github.com/sharelog/sharelog" {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("s3test: not inside the sharelog repository")
		}
		dir = parent
	}
}

// tail returns the last lines of the log at path.
func tail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 60 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
