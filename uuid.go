package sharelog

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// UUIDv7 makes RFC 9562 version 7 UUIDs for event ids: a 48-bit Unix
// millisecond timestamp, then 12 bits of rand_a used as a counter within one
// millisecond (method 1 of RFC 9562 §6.2), then 62 random bits. The ids one
// UUIDv7 makes are strictly increasing, also when the clock stands still or
// steps back: the timestamp then stays at the last one used and the counter
// goes on, carrying into the timestamp when it overflows.
//
// The zero value is ready to use and takes its random bits from crypto/rand.
// A UUIDv7 is not safe for concurrent use; use one per goroutine.
type UUIDv7 struct {
	// Rand, if set, returns 64 random bits; New calls it twice per id.
	// A seeded source makes the ids reproducible (the traffic simulator
	// uses one); nil means crypto/rand.
	Rand func() uint64

	lastMS  uint64
	counter uint64 // 12 bits
}

// New returns the canonical lowercase 8-4-4-4-12 form of a new UUIDv7 for
// time t.
func (u *UUIDv7) New(t time.Time) string {
	random := u.Rand
	if random == nil {
		random = cryptoUint64
	}
	ms := uint64(t.UnixMilli())
	rnd := random()
	if ms > u.lastMS {
		u.lastMS = ms
		// Start the counter at a random value in the lower half, so that
		// ids of one millisecond are not guessable from each other and
		// still leave room to count.
		u.counter = rnd >> 53 // 11 bits
	} else {
		u.counter++
		if u.counter > 0xfff {
			u.lastMS++
			u.counter = 0
		}
	}
	var b [16]byte
	ms = u.lastMS
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(u.counter>>8)
	b[7] = byte(u.counter)
	rb := random()
	b[8] = 0x80 | byte(rb>>56)&0x3f
	b[9], b[10], b[11], b[12], b[13], b[14], b[15] = byte(rb>>48), byte(rb>>40), byte(rb>>32), byte(rb>>24), byte(rb>>16), byte(rb>>8), byte(rb)
	return formatUUID(&b)
}

func cryptoUint64() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return binary.BigEndian.Uint64(b[:])
}

// formatUUID writes b in the canonical 8-4-4-4-12 form.
func formatUUID(b *[16]byte) string {
	var s [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(s[:])
}
