package stream

import (
	"strings"
	"testing"
	"time"
)

func TestConfigWriteTimeout(t *testing.T) {
	var c Config
	c.SetDefaults()
	if c.WriteTimeout != 10*time.Second {
		t.Fatalf("default write_timeout %s, want 10s", c.WriteTimeout)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{100 * time.Millisecond, true}, {10 * time.Minute, true}, {99 * time.Millisecond, false}, {-time.Second, false}, {11 * time.Minute, false}} {
		c.WriteTimeout = tc.d
		err := c.Validate()
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "write_timeout: "+tc.d.String())) {
			t.Errorf("write_timeout %s: %v", tc.d, err)
		}
	}
}
