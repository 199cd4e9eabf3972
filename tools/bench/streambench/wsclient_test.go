package streambench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSConnAgainstGorilla: the bench's own client against a gorilla
// server, as the live stream's: a compressed message fragmented over
// several frames inflates to what was sent, a ping is answered with its
// payload (the server says so in a plain message), the close code arrives.
func TestWSConnAgainstGorilla(t *testing.T) {
	// Random ids, so that even compressed it spans several 4 KiB frames.
	var sb strings.Builder
	for range 1200 {
		fmt.Fprintf(&sb, `{"id":"%x","time":"2026-12-07T00:00:00Z"},`, rand.Uint64())
	}
	big := sb.String()
	pong := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{EnableCompression: true}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetPongHandler(func(s string) error { pong <- s; return nil })
		go func() { // the reader runs the pong handler
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
		pm, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte(big))
		c.WritePreparedMessage(pm)
		c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		answer := "no pong"
		select {
		case p := <-pong:
			answer = "pong: " + p
		case <-time.After(5 * time.Second):
		}
		c.EnableWriteCompression(false)
		c.WriteMessage(websocket.TextMessage, []byte(answer))
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"))
		time.Sleep(100 * time.Millisecond)
	}))
	defer srv.Close()

	addr := strings.TrimPrefix(srv.URL, "http://")
	dial := func(ctx context.Context) (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, "tcp", addr) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialWS(ctx, dial, "ws://"+addr+"/v1/stream?x=1", http.Header{"Authorization": {"Bearer t"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Deflate {
		t.Fatal("permessage-deflate not negotiated")
	}
	var buf bytes.Buffer
	var inf inflater
	compressed, err := c.ReadMessage(&buf)
	if err != nil || !compressed {
		t.Fatalf("first message: compressed %v, %v", compressed, err)
	}
	if buf.Len() >= len(big)/2 || buf.Len() < 8<<10 {
		t.Fatalf("compressed message of %d bytes for %d: want several frames, and compressed", buf.Len(), len(big))
	}
	got, err := inf.inflate(buf.Bytes())
	if err != nil || string(got) != big {
		t.Fatalf("inflated %d bytes (%v), want the %d sent", len(got), err, len(big))
	}
	compressed, err = c.ReadMessage(&buf)
	if err != nil || compressed || buf.String() != "pong: are you there" {
		t.Fatalf("second message %q (the server's word on the pong), compressed %v, %v", buf.String(), compressed, err)
	}
	_, err = c.ReadMessage(&buf)
	var ce errClosed
	if !errors.As(err, &ce) || ce.code != websocket.ClosePolicyViolation {
		t.Fatalf("end: %v, want close 1008", err)
	}
}
