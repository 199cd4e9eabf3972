// Command fileserver shows how a link and file server embeds sharelog's Go
// client: it publishes a link.opened event for every share link opened, to
// <prefix>.raw on the Kafka cluster sharelog reads, before it answers.
//
//	FILESERVER_KAFKA_BROKERS=127.0.0.1:9092 go run .
//	curl localhost:8080/s/lk_report
//
// It is a module of its own (example.com/fileserver) and imports only
// sharelog's public packages, as another team's server would.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/ingest"
)

func main() {
	brokers := strings.Split(getenv("FILESERVER_KAFKA_BROKERS", "127.0.0.1:9092"), ",")
	opts := []ingest.Option{
		ingest.WithClientID("fileserver"),
		ingest.WithTopicPrefix(getenv("FILESERVER_TOPIC_PREFIX", ingest.DefaultTopicPrefix)),
		// Refuse events more than a day old or a minute ahead, as the
		// HTTP endpoint does by default.
		ingest.WithTimeWindow(sharelog.TimeWindow{MaxPast: 24 * time.Hour, MaxFuture: time.Minute}, nil),
	}
	if mech := os.Getenv("FILESERVER_KAFKA_SASL_MECHANISM"); mech != "" {
		opts = append(opts, ingest.WithSASLCredentials(mech,
			os.Getenv("FILESERVER_KAFKA_SASL_USERNAME"), os.Getenv("FILESERVER_KAFKA_SASL_PASSWORD")))
	}
	client, err := ingest.NewClient(brokers, opts...)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close() // flushes

	srv := &Server{Events: client, Workspace: "ws_acme", Region: "eu-central-2"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /s/{link}", srv.OpenLink)
	log.Printf("serving share links on :8080, events to %s", client.Topic())
	log.Fatal(http.ListenAndServe(":8080", mux))
}

// Server is the part of a file server that opens share links.
type Server struct {
	Events    *ingest.Client
	Workspace string
	Region    string

	mu  sync.Mutex
	ids sharelog.UUIDv7 // strictly increasing event ids
}

// OpenLink serves a share link and records that it was opened. The event is
// published before the answer, so a visitor is never served unrecorded.
func (s *Server) OpenLink(w http.ResponseWriter, r *http.Request) {
	ev := s.event(r, sharelog.LinkOpened)
	ev.Link = &sharelog.Link{ID: r.PathValue("link")}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.Events.Publish(ctx, ev); err != nil {
		var invalid *ingest.InvalidEventError
		var retry *sharelog.RetryableError
		switch {
		case errors.As(err, &invalid):
			// A bug on our side (a field the schema refuses): fix it,
			// retrying will not help.
			log.Printf("event %s refused: %v", invalid.ID, invalid.Err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		case errors.As(err, &retry):
			// Kafka is unreachable or slow: the visitor may try again.
			log.Printf("publishing: %v", err)
			http.Error(w, "try again", http.StatusServiceUnavailable)
		default:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
		return
	}
	fmt.Fprintf(w, "the files of link %s\n", ev.Link.ID)
}

// event returns an event of this server about request r, by an anonymous
// visitor.
func (s *Server) event(r *http.Request, action sharelog.Action) *sharelog.Event {
	now := time.Now().UTC()
	s.mu.Lock()
	id := s.ids.New(now)
	s.mu.Unlock()
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return &sharelog.Event{
		ID: id, Time: now,
		Workspace: sharelog.Workspace{ID: s.Workspace},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action:    action,
		Result:    sharelog.Success,
		Client:    sharelog.Client{IP: ip, UserAgent: r.UserAgent(), Kind: sharelog.ClientBrowser},
		Server:    &sharelog.Server{Region: s.Region},
	}
}

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
