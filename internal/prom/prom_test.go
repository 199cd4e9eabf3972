package prom

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func counters() (prometheus.Counter, prometheus.Counter) {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"}),
		prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
}

func TestRegister(t *testing.T) {
	if err := Register(nil, prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"})); err != nil {
		t.Fatalf("nil registerer: %v", err)
	}

	reg := prometheus.NewPedanticRegistry()
	a, b := counters()
	if err := Register(reg, a, b); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg); n != 2 {
		t.Fatalf("%d series registered, want 2", n)
	}

	// A second set with one new name and one taken: none of it stays.
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "c"})
	_, b2 := counters()
	err := Register(reg, c, b2)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("taken name: %v", err)
	}
	if n := testutil.CollectAndCount(reg); n != 2 {
		t.Errorf("%d series after a failed registration, want the 2 of before", n)
	}

	// Wrapped with a label each, two sets live side by side.
	reg = prometheus.NewPedanticRegistry()
	for _, name := range []string{"one", "two"} {
		a, b := counters()
		if err := Register(prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg), a, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := testutil.CollectAndCount(reg); n != 4 {
		t.Errorf("%d series, want 4", n)
	}
}
