package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/ingest"
)

// TestFileServerPublishes runs the file server's link handler and a direct
// Publish against a Kafka-protocol broker on loopback, then reads
// <prefix>.raw back with kafka-go: every event arrived once, keyed by its
// link id, else its workspace id; an invalid event is refused with an
// *ingest.InvalidEventError and never produced.
func TestFileServerPublishes(t *testing.T) {
	const prefix = "files"
	broker, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, prefix+".raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokers := broker.ListenAddrs()

	client, err := ingest.NewClient(brokers, ingest.WithTopicPrefix(prefix), ingest.WithClientID("fileserver-test"))
	if err != nil {
		t.Fatal(err)
	}
	if client.Topic() != "files.raw" {
		t.Fatalf("topic %q", client.Topic())
	}
	srv := &Server{Events: client, Workspace: "ws_acme", Region: "eu-central-2"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /s/{link}", srv.OpenLink)
	web := httptest.NewServer(mux)
	defer web.Close()

	// Visitors open three links; the file server publishes before it answers.
	for _, link := range []string{"lk_a", "lk_b", "lk_a"} {
		resp, err := http.Get(web.URL + "/s/" + link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /s/%s: %s", link, resp.Status)
		}
	}

	// An upload (no link: keyed by workspace), sent with an invalid one:
	// the call fails before anything is produced.
	upload := srv.event(httptest.NewRequest("POST", "/upload", nil), sharelog.FileUploaded)
	upload.Actor = sharelog.Actor{Type: sharelog.ActorUser, Email: "ana@acme.example"}
	upload.File = &sharelog.File{ID: "f_1", Name: "q3.pdf", Size: 1234}
	bad := srv.event(httptest.NewRequest("POST", "/upload", nil), sharelog.FileUploaded)
	bad.Client.IP = "not-an-ip"
	err = client.Publish(context.Background(), upload, bad)
	var invalid *ingest.InvalidEventError
	if !errors.As(err, &invalid) || invalid.Index != 1 || invalid.ID != bad.ID || !strings.Contains(err.Error(), "client.ip") {
		t.Fatalf("invalid event: err = %v, want an *ingest.InvalidEventError for event 1 naming client.ip", err)
	}
	if err := client.Publish(context.Background(), upload); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}

	got := readAll(t, brokers, "files.raw", 4)
	if len(got) != 4 {
		t.Fatalf("read %d events, want 4: %v", len(got), got)
	}
	links := map[string]int{}
	for _, m := range got {
		ev, err := sharelog.DecodeRaw(m.Value)
		if err != nil {
			t.Fatalf("%s: %v", m.Value, err)
		}
		if ev.ID == bad.ID {
			t.Fatalf("the invalid event was produced: %s", m.Value)
		}
		switch ev.Action {
		case sharelog.LinkOpened:
			if ev.Link == nil || string(m.Key) != ev.Link.ID {
				t.Errorf("link event %s: key %q, link %+v", ev.ID, m.Key, ev.Link)
			}
			if ev.Client.IP != "127.0.0.1" || ev.Server == nil || ev.Server.Region != "eu-central-2" {
				t.Errorf("link event %s: client %+v, server %+v", ev.ID, ev.Client, ev.Server)
			}
			links[ev.Link.ID]++
		case sharelog.FileUploaded:
			if ev.ID != upload.ID || string(m.Key) != "ws_acme" || ev.File == nil || ev.File.Name != "q3.pdf" {
				t.Errorf("upload %s: key %q, file %+v", ev.ID, m.Key, ev.File)
			}
		default:
			t.Errorf("unexpected event %s", m.Value)
		}
	}
	if links["lk_a"] != 2 || links["lk_b"] != 1 {
		t.Errorf("link events: %v", links)
	}
}

// TestUnreachableKafkaIsRetryable: with no broker, Publish fails within its
// context with a *sharelog.RetryableError, and the handler answers 503.
func TestUnreachableKafkaIsRetryable(t *testing.T) {
	broker, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	addrs := broker.ListenAddrs()
	broker.Close() // nothing listens there any more
	client, err := ingest.NewClient(addrs)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv := &Server{Events: client, Workspace: "ws_acme"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ev := srv.event(httptest.NewRequest("GET", "/s/lk_a", nil), sharelog.LinkOpened)
	ev.Link = &sharelog.Link{ID: "lk_a"}
	err = client.Publish(ctx, ev)
	var retry *sharelog.RetryableError
	if !errors.As(err, &retry) {
		t.Fatalf("err = %v, want a *sharelog.RetryableError", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/s/lk_a", nil).WithContext(ctx)
	req.SetPathValue("link", "lk_a")
	srv.OpenLink(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("handler: %d %s", rec.Code, rec.Body)
	}
}

// readAll reads topic from the start of every partition until n messages
// arrived or 20 s passed.
func readAll(t *testing.T, brokers []string, topic string, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, GroupID: fmt.Sprintf("%s-check-%d", topic, time.Now().UnixNano()),
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []kafka.Message
	for len(got) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(got), n, err)
		}
		got = append(got, m)
	}
	// Nothing more arrives (the invalid event was not produced).
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if m, err := r.FetchMessage(ctx2); err == nil {
		got = append(got, m)
	}
	return got
}
