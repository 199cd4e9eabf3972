// Package streambench measures the live stream end to end: a `sharelog run`
// child process (so that its CPU and memory are its own), N WebSocket
// clients of GET /v1/stream, and events posted to POST /v1/events at a
// steady rate; latency is from the moment an event is made (just before its
// POST, its event time) to its arrival at a client.
package streambench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sharelog/sharelog/internal/procstat"
	"github.com/sharelog/sharelog/server/api"
	"github.com/sharelog/sharelog/tools/simulate"
)

// Options say what to measure.
type Options struct {
	Binary   string        // the sharelog command to start (`run`)
	Clients  int           // WebSocket clients
	Rate     int           // events/s posted
	Duration time.Duration // measured
	Warmup   time.Duration // sent before, not measured
	Batch    int           // events per POST
	Filter   string        // stream parameters of every client ("" = all events)
	Sampled  int           // clients that read every event's time for latency (the others count)
	// FlushInterval is the server's api.stream.flush_interval; 0 leaves its
	// default.
	FlushInterval time.Duration
	// Compress makes the clients offer permessage-deflate, as browsers do.
	Compress bool
	Log      io.Writer // the child's stderr; nil: discarded
}

// Result is what one run measured.
type Result struct {
	Clients, Connected int
	Sent               int64   // events acknowledged by ingest in the measured window
	SentRate           float64 // events/s
	Deliveries         int64   // events received, summed over clients, in the window
	DeliveryRate       float64 // per second
	MinPerClient       int64
	AvgPerClient       float64
	Dropped            int // clients closed by the server (1008 too slow)
	Closed             int // clients whose connection ended otherwise
	P50, P90, P99, Max time.Duration
	ServerCPU          float64 // cores: CPU seconds / wall seconds of the window
	ServerRSSMiB       float64 // at the end
	ServerMaxRSSMiB    float64 // VmHWM
	BenchCPU           float64 // this process, cores
	LatencySamples     int
	PostErrors         int64
	BadMessages        int64   // sampled messages that did not decode or miscounted
	WireMiBps          float64 // bytes the clients read from their sockets, per second
	// CompressionRatio is the sampled clients' message bytes (decompressed)
	// over their wire bytes: 1 uncompressed (a little less: frame headers).
	CompressionRatio float64
	Compressed       bool // permessage-deflate was negotiated
}

// Run starts the server, connects the clients, sends and measures.
func Run(ctx context.Context, o Options) (Result, error) {
	r := Result{Clients: o.Clients}
	dir, err := os.MkdirTemp("", "sharelog-streambench-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	httpAddr, kafkaAddr := freeAddr(), freeAddr()
	token, digest := api.NewToken()
	key := "bench-ingest-key-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cfg := fmt.Sprintf(`data_dir: %q
log: {level: warn}
http: {addr: %q}
kafka: {embedded: {addr: %q}, partitions: 4}
ingest: {keys: [%q]}
api:
  tokens: [{name: bench, workspaces: ["*"], sha256: %q}]
  stream: {max_clients: %d%s}
rules: []
`, dir, httpAddr, kafkaAddr, key, digest, o.Clients+10, flushOption(o.FlushInterval))
	cfgPath := filepath.Join(dir, "sharelog.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return r, err
	}
	cmd := exec.Command(o.Binary, "run", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if o.Log != nil {
		cmd.Stderr = o.Log
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	}()
	base := "http://" + httpAddr
	if err := waitReady(ctx, base+"/readyz", 60*time.Second); err != nil {
		return r, err
	}

	// The clients.
	var measuring atomic.Bool
	lat := &latencies{}
	clients := make([]*client, o.Clients)
	url := "ws://" + httpAddr + "/v1/stream"
	if o.Filter != "" {
		url += "?" + o.Filter
	}
	known := &messageCounts{seed: maphash.MakeSeed(), counts: map[uint64]int64{}}
	var wg sync.WaitGroup
	for i := range clients {
		// The sampled clients are spread over the connection order.
		cl := &client{sample: o.Sampled > 0 && i%max(1, o.Clients/o.Sampled) == 0 && i/max(1, o.Clients/o.Sampled) < o.Sampled,
			known: known, msgs: map[uint64]int64{}}
		dial := func(ctx context.Context) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", httpAddr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, measuring: &measuring, n: &cl.wire}, nil
		}
		c, err := dialWS(ctx, dial, url, http.Header{"Authorization": {"Bearer " + token}}, o.Compress)
		if err != nil {
			return r, fmt.Errorf("client %d: %w", i, err)
		}
		if i == 0 {
			r.Compressed = c.Deflate
		}
		cl.conn = c
		clients[i] = cl
		wg.Add(1)
		go func() { defer wg.Done(); cl.read(&measuring, lat) }()
	}
	r.Connected = len(clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
		wg.Wait()
	}()

	// The load: batches of events whose time is when they are made.
	var sent, postErrs atomic.Int64
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go send(sctx, o, base, key, &measuring, &sent, &postErrs)

	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(o.Warmup):
	}
	cpu0, _ := procstat.CPU(cmd.Process.Pid)
	self0 := procstat.SelfCPU()
	t0 := time.Now()
	measuring.Store(true)
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(o.Duration):
	}
	measuring.Store(false)
	elapsed := time.Since(t0).Seconds()
	cpu1, _ := procstat.CPU(cmd.Process.Pid)
	self1 := procstat.SelfCPU()
	r.ServerCPU = (cpu1 - cpu0) / elapsed
	r.BenchCPU = (self1 - self0) / elapsed
	r.ServerRSSMiB, r.ServerMaxRSSMiB = procstat.RSS(cmd.Process.Pid)
	stop()
	time.Sleep(2 * time.Second) // what is in flight arrives, still outside the window's counts

	r.Sent, r.PostErrors = sent.Load(), postErrs.Load()
	r.SentRate = float64(r.Sent) / elapsed
	r.MinPerClient = -1
	var sampledWire, sampledBytes int64
	for _, c := range clients {
		resolved, unknown := c.resolve()
		n := c.events.Load() + resolved
		r.Deliveries += n
		r.BadMessages += c.bad.Load() + unknown
		r.WireMiBps += float64(c.wire.Load()) / elapsed / (1 << 20)
		if c.sample {
			sampledWire += c.wire.Load()
			sampledBytes += c.bytes.Load()
		}
		if r.MinPerClient < 0 || n < r.MinPerClient {
			r.MinPerClient = n
		}
		switch c.closeCode.Load() {
		case 0:
		case 1008: // policy violation: too slow
			r.Dropped++
		default:
			r.Closed++
		}
	}
	if sampledWire > 0 {
		r.CompressionRatio = float64(sampledBytes) / float64(sampledWire)
	}
	r.DeliveryRate = float64(r.Deliveries) / elapsed
	r.AvgPerClient = float64(r.Deliveries) / float64(len(clients))
	r.P50, r.P90, r.P99, r.Max, r.LatencySamples = lat.quantiles()
	return r, nil
}

func flushOption(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return ", flush_interval: " + d.String()
}

// countingConn counts what is read from the socket while measuring.
type countingConn struct {
	net.Conn
	measuring *atomic.Bool
	n         *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.measuring.Load() {
		c.n.Add(int64(n))
	}
	return n, err
}

// client is one WebSocket client: it counts the events it gets while
// measuring; a sampled one also decodes their times.
//
// Every client reads every byte the server sends it. A sampled client
// inflates and reads every message, takes each event's time and checks the
// message's count; it also notes the count of each compressed message by
// the hash of its compressed bytes. A client that is not sampled reads the
// count at the head of a plain message; of a compressed one it keeps only
// the hash, whose count the sampled clients noted (the clients share one
// filter, so every client gets the same messages, compressed once by the
// server). The bench measures the server, not a thousand browsers
// inflating on the same two cores.
type client struct {
	conn      *wsConn
	sample    bool
	known     *messageCounts
	events    atomic.Int64
	wire      atomic.Int64 // bytes read from the socket, while measuring
	bytes     atomic.Int64 // of the sampled client's messages (inflated), while measuring
	bad       atomic.Int64 // sampled messages that did not decode or whose count was wrong
	closeCode atomic.Int64

	mu   sync.Mutex
	msgs map[uint64]int64 // compressed messages by hash, while measuring (not sampled)
}

// messageCounts are the event counts of compressed messages, by the hash
// of their compressed bytes, as the sampled clients read them.
type messageCounts struct {
	seed   maphash.Seed
	mu     sync.Mutex
	counts map[uint64]int64
}

func (m *messageCounts) note(h uint64, n int64) {
	m.mu.Lock()
	m.counts[h] = n
	m.mu.Unlock()
}

// resolve is the events of the compressed messages c got while measuring,
// and how many of those messages no sampled client decoded.
func (c *client) resolve() (events, unknown int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.known.mu.Lock()
	defer c.known.mu.Unlock()
	for h, times := range c.msgs {
		if k, ok := c.known.counts[h]; ok {
			events += k * times
		} else {
			unknown += times
		}
	}
	return events, unknown
}

var (
	countKey = []byte(`{"type":"events","count":`)
	timeKey  = []byte(`"time":"`)
)

// countOf is the count at the head of an events message, 0 for another
// message.
func countOf(data []byte) int64 {
	rest, ok := bytes.CutPrefix(data, countKey)
	if !ok {
		return 0
	}
	var n int64
	for _, b := range rest {
		if b < '0' || b > '9' {
			break
		}
		n = n*10 + int64(b-'0')
	}
	return n
}

func (c *client) read(measuring *atomic.Bool, lat *latencies) {
	var buf bytes.Buffer // reused: a thousand clients allocating each message would measure the bench's GC
	var inf inflater
	for {
		compressed, err := c.conn.ReadMessage(&buf)
		if err != nil {
			var ce errClosed
			if errors.As(err, &ce) {
				c.closeCode.Store(int64(ce.code))
			} else if !errors.Is(err, net.ErrClosed) {
				c.closeCode.Store(1006)
			}
			return
		}
		data, m := buf.Bytes(), measuring.Load() // one answer for the whole message
		switch {
		case !c.sample && compressed:
			if m {
				h := maphash.Bytes(c.known.seed, data)
				c.mu.Lock()
				c.msgs[h]++
				c.mu.Unlock()
			}
			continue
		case !c.sample:
			if m {
				// The message says how many events it holds before them.
				c.events.Add(countOf(data))
			}
			continue
		}
		now := time.Now()
		var h uint64
		if compressed {
			h = maphash.Bytes(c.known.seed, data)
			if data, err = inf.inflate(data); err != nil {
				if m {
					c.bad.Add(1)
				}
				continue
			}
		}
		// A sampled client reads every event's time (an event has one
		// "time" key; encoding/json would cost the bench more than the
		// server) and checks the count the others trust.
		n, ok := int64(0), true
		for rest := data; ; {
			i := bytes.Index(rest, timeKey)
			if i < 0 {
				break
			}
			rest = rest[i+len(timeKey):]
			j := bytes.IndexByte(rest, '"')
			t, err := time.Parse(time.RFC3339Nano, string(rest[:max(j, 0)]))
			if j < 0 || err != nil {
				ok = false
				break
			}
			if m {
				lat.add(now.Sub(t))
			}
			n++
		}
		if !ok || n != countOf(data) {
			if m {
				c.bad.Add(1)
			}
			continue
		}
		if compressed {
			c.known.note(h, n)
		}
		if m {
			c.bytes.Add(int64(len(data)))
			c.events.Add(n)
		}
	}
}

// send posts events at o.Rate, in batches, from a few senders.
func send(ctx context.Context, o Options, base, key string, measuring *atomic.Bool, sent, errs *atomic.Int64) {
	// Enough senders that one slow answer (ingest waits for the broker's
	// acknowledgement) does not lower the rate: one batch a second each,
	// up to 64.
	senders := min(64, max(1, o.Rate/max(1, o.Batch)))
	perSender := float64(o.Rate) / float64(senders)
	interval := time.Duration(float64(time.Second) * float64(o.Batch) / perSender)
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gen := simulate.NewGenerator(simulate.Config{Seed: int64(s + 1)}, func() time.Time { return time.Now().UTC() })
			select { // the senders take turns, for a steady rate
			case <-ctx.Done():
				return
			case <-time.After(interval * time.Duration(s) / time.Duration(senders)):
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			var body bytes.Buffer
			for first := true; ; first = false {
				if !first {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
				}
				body.Reset()
				for _, ev := range gen.Batch(o.Batch) {
					b, _ := ev.Encode()
					body.Write(b)
					body.WriteByte('\n')
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/events", bytes.NewReader(body.Bytes()))
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != 202 {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					if resp != nil {
						resp.Body.Close()
					}
					continue
				}
				var ans struct {
					Accepted int `json:"accepted"`
				}
				json.NewDecoder(resp.Body).Decode(&ans)
				resp.Body.Close()
				if measuring.Load() {
					sent.Add(int64(ans.Accepted))
				}
			}
		}()
	}
	wg.Wait()
}

// latencies keeps a bounded sample (every event of the sampled clients, up
// to 2 million).
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	if len(l.d) < 2_000_000 {
		l.d = append(l.d, d)
	}
	l.mu.Unlock()
}

func (l *latencies) quantiles() (p50, p90, p99, mx time.Duration, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	q := func(f float64) time.Duration { return l.d[min(len(l.d)-1, int(f*float64(len(l.d))))] }
	return q(0.5), q(0.9), q(0.99), l.d[len(l.d)-1], len(l.d)
}

func waitReady(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the server was not ready within %s (%s)", d, url)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}
