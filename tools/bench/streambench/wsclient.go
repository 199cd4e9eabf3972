package streambench

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// wsConn is the bench's own minimal WebSocket client (RFC 6455, with
// permessage-deflate of RFC 7692 without context takeover): it reads whole
// messages as they came over the wire, still compressed, so that a client
// that is not sampled can identify a message by its compressed bytes
// without inflating it. A thousand clients inflating every message would
// measure zlib on the bench's share of two cores, not the server.
type wsConn struct {
	nc      net.Conn
	br      *bufio.Reader
	Deflate bool // permessage-deflate was negotiated
}

// errClosed is the close frame the server sent.
type errClosed struct{ code int }

func (e errClosed) Error() string { return fmt.Sprintf("websocket closed by the server: %d", e.code) }

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialWS opens a WebSocket to rawURL (ws://) on a connection from dial,
// offering permessage-deflate when deflate is set.
func dialWS(ctx context.Context, dial func(ctx context.Context) (net.Conn, error), rawURL string, header http.Header, deflate bool) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	nc, err := dial(ctx)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	} else {
		nc.SetDeadline(time.Now().Add(30 * time.Second))
	}
	kb := make([]byte, 16)
	rand.Read(kb)
	key := base64.StdEncoding.EncodeToString(kb)
	req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: u.Host, Path: u.Path, RawQuery: u.RawQuery},
		Host: u.Host, Header: header.Clone(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if deflate {
		req.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
	}
	if err := req.Write(nc); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		nc.Close()
		return nil, fmt.Errorf("upgrade refused: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		nc.Close()
		return nil, errors.New("upgrade: wrong Sec-WebSocket-Accept")
	}
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if ext != "" && (!deflate || !strings.HasPrefix(ext, "permessage-deflate")) {
		nc.Close()
		return nil, fmt.Errorf("upgrade: extension %q was not offered", ext)
	}
	nc.SetDeadline(time.Time{})
	return &wsConn{nc: nc, br: br, Deflate: ext != ""}, nil
}

// Close closes the connection (no close handshake: the bench is done).
func (c *wsConn) Close() error { return c.nc.Close() }

// ReadMessage reads the next data message into buf (reset first) and
// reports whether it is compressed; it answers pings on the way. A close
// frame from the server ends with errClosed.
func (c *wsConn) ReadMessage(buf *bytes.Buffer) (compressed bool, err error) {
	buf.Reset()
	inMessage := false
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return false, err
		}
		fin, rsv1, op := h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0f
		if h[1]&0x80 != 0 {
			return false, errors.New("websocket: a server frame is masked")
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return false, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return false, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 64<<20 {
			return false, fmt.Errorf("websocket: a frame of %d bytes", n)
		}
		switch op {
		case 0x8: // close
			p := make([]byte, n)
			if _, err := io.ReadFull(c.br, p); err != nil {
				return false, err
			}
			code := 1005
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			return false, errClosed{code}
		case 0x9, 0xA: // ping, pong
			p := make([]byte, n)
			if _, err := io.ReadFull(c.br, p); err != nil {
				return false, err
			}
			if op == 0x9 {
				if err := c.write(0xA, p); err != nil {
					return false, err
				}
			}
			continue
		case 0x0: // continuation
			if !inMessage {
				return false, errors.New("websocket: a continuation frame outside a message")
			}
		case 0x1, 0x2:
			if inMessage {
				return false, errors.New("websocket: a new message inside a fragmented one")
			}
			inMessage, compressed = true, rsv1
		default:
			return false, fmt.Errorf("websocket: opcode %d", op)
		}
		if _, err := io.CopyN(buf, c.br, int64(n)); err != nil {
			return false, err
		}
		if fin {
			return compressed, nil
		}
	}
}

// write sends one masked control frame (a client's frames are masked);
// only ReadMessage writes (pongs), so writes never overlap.
func (c *wsConn) write(op byte, p []byte) error {
	if len(p) > 125 {
		return errors.New("websocket: control payload over 125 bytes")
	}
	var mask [4]byte
	rand.Read(mask[:])
	f := append([]byte{0x80 | op, 0x80 | byte(len(p))}, mask[:]...)
	for i, b := range p {
		f = append(f, b^mask[i%4])
	}
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(f)
	return err
}

// inflater inflates permessage-deflate messages (no context takeover).
type inflater struct {
	fr  io.ReadCloser
	src bytes.Reader
	out bytes.Buffer
}

// deflateTail ends a message's deflate data (RFC 7692 7.2.2), then an
// empty final block.
var deflateTail = []byte("\x00\x00\xff\xff\x01\x00\x00\xff\xff")

// inflate returns the message of compressed payload p; the result is valid
// until the next call.
func (f *inflater) inflate(p []byte) ([]byte, error) {
	f.src.Reset(p)
	r := io.MultiReader(&f.src, bytes.NewReader(deflateTail))
	if f.fr == nil {
		f.fr = flate.NewReader(r)
	} else if err := f.fr.(flate.Resetter).Reset(r, nil); err != nil {
		return nil, err
	}
	f.out.Reset()
	if _, err := f.out.ReadFrom(f.fr); err != nil {
		return nil, err
	}
	return f.out.Bytes(), nil
}
