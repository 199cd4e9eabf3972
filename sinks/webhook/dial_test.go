package webhook

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNonPublicKind(t *testing.T) {
	for addr, want := range map[string]string{
		"8.8.8.8":                  "",
		"1.1.1.1":                  "",
		"81.2.69.160":              "",
		"2606:4700:4700::1111":     "",
		"2a02:8100::1":             "",
		"64:ff9b::808:808":         "", // NAT64 of 8.8.8.8
		"2002:808:808::1":          "", // 6to4 of 8.8.8.8
		"127.0.0.1":                "loopback",
		"127.255.0.9":              "loopback",
		"::1":                      "loopback",
		"::ffff:127.0.0.1":         "loopback",
		"10.1.2.3":                 "private",
		"172.16.0.1":               "private",
		"172.31.255.255":           "private",
		"192.168.1.1":              "private",
		"fc00::1":                  "private",
		"fd12:3456::1":             "private",
		"::ffff:10.0.0.1":          "private",
		"169.254.169.254":          "link-local", // cloud metadata
		"fe80::1":                  "link-local",
		"fe80::1%eth0":             "link-local",
		"0.0.0.0":                  "unspecified",
		"::":                       "unspecified",
		"224.0.0.1":                "multicast",
		"ff02::1":                  "multicast",
		"100.64.0.1":               "reserved",
		"100.100.100.200":          "reserved", // Alibaba Cloud metadata
		"0.1.2.3":                  "reserved",
		"192.0.0.170":              "reserved",
		"198.18.0.1":               "reserved",
		"240.0.0.1":                "reserved",
		"255.255.255.255":          "reserved",
		"fec0::1":                  "reserved",
		"100::1":                   "reserved",
		"::10.0.0.1":               "reserved",
		"64:ff9b:1::1":             "reserved",
		"64:ff9b::a00:1":           "private (in NAT64)",
		"64:ff9b::7f00:1":          "loopback (in NAT64)",
		"64:ff9b::a9fe:a9fe":       "link-local (in NAT64)",
		"2002:a00:1::1":            "private (in 6to4)",
		"2002:7f00:1::":            "loopback (in 6to4)",
		"2002:a9fe:a9fe:1:2:3:4:5": "link-local (in 6to4)",
	} {
		if got := nonPublicKind(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}

func TestRefusesPrivateAddresses(t *testing.T) {
	rc := newReceiver(t, nil)
	port := rc.Listener.Addr().(*net.TCPAddr).Port
	viaName := "http://localhost:" + strconv.Itoa(port) + "/in"
	cases := []struct {
		name  string
		url   string
		allow []string
		ok    bool
	}{
		{"loopback IP, no allow-list", rc.URL, nil, false},
		{"name resolving to loopback, no allow-list", viaName, nil, false},
		{"other private addresses allowed only", rc.URL, []string{"10.0.0.0/8", "192.168.1.1", "hooks.internal"}, false},
		{"the IP allowed", rc.URL, []string{"127.0.0.1"}, true},
		{"its network allowed", rc.URL, []string{"127.0.0.0/8"}, true},
		{"name resolving to an allowed IP", viaName, []string{"127.0.0.1"}, true},
		{"the host name allowed", viaName, []string{"LOCALHOST."}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(rc.requests())
			var logs strings.Builder
			reg := prometheus.NewPedanticRegistry()
			cfg := testConfig(t, c.url)
			cfg.AllowPrivate = c.allow
			s := newSink(t, cfg, Deps{Logger: slogTo(&logs), Registerer: reg})
			err := s.Write(context.Background(), testBatch(1))
			sent := len(rc.requests()) - before
			if c.ok {
				if err != nil || sent != 1 {
					t.Fatalf("%v, %d requests; want delivered", err, sent)
				}
				return
			}
			var ra *refusedAddrError
			if kind(err) != "retryable" || !errors.As(err, &ra) || !ra.addr.IsLoopback() {
				t.Fatalf("%v: want a retryable refusal naming a loopback address", err)
			}
			if sent != 0 {
				t.Errorf("%d requests reached a refused address", sent)
			}
			if !strings.Contains(err.Error(), "allow_private") || !strings.Contains(logs.String(), "allow_private") {
				t.Errorf("error %q / log %q should say how to permit the address", err, logs.String())
			}
			if got := testutil.ToFloat64(s.m.refused); got < 1 {
				t.Errorf("refused addresses counter %v", got)
			}
			if got := testutil.ToFloat64(s.m.requests.WithLabelValues(classRefused)); got != 1 {
				t.Errorf("requests{class=refused} %v, want 1", got)
			}
		})
	}
}

// fakeDNS is a resolver answering every A query with addr and every other
// query with no record, over a stream connection (net.Pipe), as a DNS
// server on TCP would.
func fakeDNS(addr netip.Addr, queries *atomic.Int32) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			for {
				var n [2]byte
				if _, err := io.ReadFull(server, n[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(n[:]))
				if _, err := io.ReadFull(server, q); err != nil || len(q) < 12 {
					return
				}
				queries.Add(1)
				// The question: name labels, then type and class.
				end := 12
				for end < len(q) && q[end] != 0 {
					end += int(q[end]) + 1
				}
				end += 5
				if end > len(q) {
					return
				}
				qtype := binary.BigEndian.Uint16(q[end-4:])
				resp := append([]byte{}, q[:2]...)                      // id
				resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // answer, recursion; 1 question
				resp = append(resp, q[12:end]...)
				if qtype == 1 && addr.Is4() {
					resp[7] = 1 // one answer
					a := addr.As4()
					resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
					resp = append(resp, a[:]...)
				}
				out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
				if _, err := server.Write(append(out, resp...)); err != nil {
					return
				}
			}
		}()
		return client, nil
	}}
}

// TestCheckedAfterResolution shows the check sees the address being
// connected to, whatever a name resolves to at that moment: a public-looking
// name whose DNS answers a loopback address (as in DNS rebinding) is
// refused, unless that address is allowed.
func TestCheckedAfterResolution(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var queries atomic.Int32
	base := &net.Dialer{Timeout: 5 * time.Second, Resolver: fakeDNS(netip.MustParseAddr("127.0.0.1"), &queries)}
	ctx := context.Background()

	var refused []netip.Addr
	deny, _ := parseAllowList(nil)
	dial := guardedDial(base, deny, func(a netip.Addr) { refused = append(refused, a) })
	_, err = dial(ctx, "tcp", "hooks.example.com:"+port)
	var ra *refusedAddrError
	if !errors.As(err, &ra) || ra.addr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("dial of a name resolving to 127.0.0.1: %v, want refused", err)
	}
	if queries.Load() == 0 || len(refused) != 1 {
		t.Errorf("%d DNS queries, %d refusals: the check must run on the resolved address", queries.Load(), len(refused))
	}

	allow, _ := parseAllowList([]string{"127.0.0.1"})
	c, err := guardedDial(base, allow, nil)(ctx, "tcp", "hooks.example.com:"+port)
	if err != nil {
		t.Fatalf("allowed address: %v", err)
	}
	c.Close()
}

// TestLentClient: a client given in Deps lends its TLS settings, but its
// proxy is not used and the address check is installed all the same.
func TestLentClient(t *testing.T) {
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer proxy.Close()
	lent := ts.Client()
	proxyURL, _ := url.Parse(proxy.URL)
	lent.Transport.(*http.Transport).Proxy = http.ProxyURL(proxyURL)

	cfg := testConfig(t, ts.URL+"/in")
	cfg.AllowHTTP = false
	s := newSink(t, cfg, Deps{Client: lent})
	if err := s.Write(context.Background(), testBatch(2)); err != nil {
		t.Fatalf("https with the lent client's roots: %v", err)
	}
	if proxied.Load() != 0 {
		t.Error("the lent client's proxy was used")
	}
	if lent.Transport.(*http.Transport).Proxy == nil {
		t.Error("the lent client was changed")
	}

	cfg.AllowPrivate = nil
	s = newSink(t, cfg, Deps{Client: lent})
	var ra *refusedAddrError
	if err := s.Write(context.Background(), testBatch(1)); !errors.As(err, &ra) {
		t.Errorf("lent client without allow-list: %v, want the address refused", err)
	}

	other := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("no") })}
	if _, err := New(cfg, Deps{Client: other}); err == nil || !strings.Contains(err.Error(), "*http.Transport") {
		t.Errorf("a client with another RoundTripper: %v, want refused", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
