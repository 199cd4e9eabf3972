package sharelog

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUUIDv7(t *testing.T) {
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		u    UUIDv7
	}{
		{"crypto/rand", UUIDv7{}},
		{"seeded", UUIDv7{Rand: rand.New(rand.NewPCG(1, 2)).Uint64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// With the clock standing still (and stepping back), ids stay
			// unique and increasing, past the 4096 a millisecond's counter
			// holds.
			prev := ""
			for i := range 10000 {
				tm := at
				if i%3 == 2 {
					tm = at.Add(-time.Second)
				}
				id := tc.u.New(tm)
				if !isUUID(id) || id[14] != '7' || !strings.ContainsRune("89ab", rune(id[19])) || strings.ToLower(id) != id {
					t.Fatalf("id %d: %q is not a lowercase version 7, variant 10 UUID", i, id)
				}
				if id <= prev {
					t.Fatalf("id %s after %s with a stopped clock", id, prev)
				}
				prev = id
			}
			// A later time starts from its own millisecond.
			id := tc.u.New(at.Add(time.Hour))
			ms, err := strconv.ParseInt(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
			if err != nil || ms != at.Add(time.Hour).UnixMilli() {
				t.Fatalf("id %s: time %d ms, want %d (%v)", id, ms, at.Add(time.Hour).UnixMilli(), err)
			}
		})
	}
	// A seed reproduces the ids.
	a, b := UUIDv7{Rand: rand.New(rand.NewPCG(7, 7)).Uint64}, UUIDv7{Rand: rand.New(rand.NewPCG(7, 7)).Uint64}
	for range 100 {
		if x, y := a.New(at), b.New(at); x != y {
			t.Fatalf("same seed, ids %s and %s", x, y)
		}
	}
}
