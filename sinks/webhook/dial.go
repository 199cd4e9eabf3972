package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// allowList is the parsed allow_private: host names as written in the URL,
// and prefixes of addresses (single addresses are /32 or /128).
type allowList struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

func (al *allowList) allowsHost(host string) bool {
	return al.hosts[strings.ToLower(strings.TrimSuffix(host, "."))]
}

func (al *allowList) allowsAddr(a netip.Addr) bool {
	for _, p := range al.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// refusedAddrError is the error of a dial to an address the sink does not
// deliver to.
type refusedAddrError struct{ addr netip.Addr }

func (e *refusedAddrError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address (add it, its network or the URL's host to allow_private to permit it)", e.addr, nonPublicKind(e.addr))
}

// guardedDial returns a DialContext that refuses, at connection time, every
// address nonPublicKind names unless al permits it. The check runs in the
// dialer's Control function, on the address being connected to after name
// resolution, so that no resolution trick (DNS rebinding, a name with both
// a public and a private address) gets past it. A host name in al skips the
// check for that name only.
func guardedDial(base *net.Dialer, al *allowList, refused func(netip.Addr)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if al.allowsHost(host) {
			return base.DialContext(ctx, network, addr)
		}
		d := *base
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("refused to connect to %q: not an IP address", address)
			}
			a := ap.Addr().Unmap().WithZone("")
			if nonPublicKind(a) == "" || al.allowsAddr(a) {
				return nil
			}
			if refused != nil {
				refused(a)
			}
			return &refusedAddrError{addr: a}
		}
		return d.DialContext(ctx, network, addr)
	}
}

// Address ranges that are not public besides those netip.Addr names.
var (
	sharedCGNAT  = netip.MustParsePrefix("100.64.0.0/10")  // RFC 6598, also cloud metadata (100.100.100.200)
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")      // RFC 1122
	ietfProtocol = netip.MustParsePrefix("192.0.0.0/24")   // RFC 6890
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")  // RFC 2544
	reservedV4   = netip.MustParsePrefix("240.0.0.0/4")    // RFC 1112, broadcast included
	siteLocalV6  = netip.MustParsePrefix("fec0::/10")      // deprecated, still routed inside sites
	discardV6    = netip.MustParsePrefix("100::/64")       // RFC 6666
	nat64        = netip.MustParsePrefix("64:ff9b::/96")   // RFC 6052: IPv4 in the last 32 bits
	nat64Local   = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215
	sixToFour    = netip.MustParsePrefix("2002::/16")      // RFC 3056: IPv4 in bits 16–47
	ipv4Compat   = netip.MustParsePrefix("::/96")          // deprecated IPv4-compatible
	nonPublicV4  = []netip.Prefix{sharedCGNAT, thisNetwork, ietfProtocol, benchmarking, reservedV4}
	nonPublicV6  = []netip.Prefix{siteLocalV6, discardV6, nat64Local, ipv4Compat}
)

// nonPublicKind names why a is not a public unicast address ("loopback",
// "private", "link-local", …), or returns "" for a public one. IPv4
// addresses carried in IPv6 (mapped, NAT64, 6to4) are judged by the IPv4
// address they carry.
func nonPublicKind(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	if !a.IsValid() {
		return "invalid"
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			if k := nonPublicKind(netip.AddrFrom4([4]byte(b[12:16]))); k != "" {
				return k + " (in NAT64)"
			}
			return ""
		case sixToFour.Contains(a):
			if k := nonPublicKind(netip.AddrFrom4([4]byte(b[2:6]))); k != "" {
				return k + " (in 6to4)"
			}
			return ""
		}
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast():
		return "multicast"
	}
	list := nonPublicV4
	if a.Is6() {
		list = nonPublicV6
	}
	for _, p := range list {
		if p.Contains(a) {
			return "reserved"
		}
	}
	return ""
}
