package registry

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog"
)

// Every kind's section has the hooks the registry calls, and its name is
// unique and not one of the entry's own keys.
func TestKinds(t *testing.T) {
	own, _ := yamlFields(reflect.TypeFor[plain]())
	seen := map[string]bool{}
	for _, k := range kinds {
		if seen[k.name()] || own[k.name()] != nil || k.name() != strings.ToLower(k.name()) {
			t.Errorf("kind %q: duplicate, upper-case or the name of an entry key", k.name())
		}
		seen[k.name()] = true
		sec, err := k.decode(&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
		if err != nil {
			t.Fatalf("%s: %v", k.name(), err)
		}
		if _, ok := sec.(defaulter); !ok {
			t.Errorf("%s: %T has no SetDefaults", k.name(), sec)
		}
		if _, ok := sec.(validator); !ok {
			t.Errorf("%s: %T has no Validate", k.name(), sec)
		}
	}
}

// testSection is the configuration of a sink type that exists only here.
type testSection struct {
	Target string `yaml:"target"`
	Copies int    `yaml:"copies"`
}

func (c *testSection) SetDefaults() {
	if c.Copies == 0 {
		c.Copies = 1
	}
}

func (c testSection) Validate() error {
	if c.Target == "" {
		return errors.New("target: required")
	}
	return nil
}

type testSink struct{ cfg testSection }

func (testSink) Write(context.Context, []*sharelog.Event) error { return nil }
func (testSink) Close() error                                   { return nil }

// A new sink type is one Kind value in the list: its section is read from
// YAML under its name, defaulted, validated with field paths, written back
// and built, with nothing else to edit.
func TestNewKindIsOneEntry(t *testing.T) {
	saved := kinds
	t.Cleanup(func() { kinds = saved })
	kinds = append(kinds[:len(kinds):len(kinds)], Kind[testSection]{
		Type: "tester",
		New:  func(c testSection, _ Deps) (sharelog.Sink, error) { return testSink{c}, nil },
	})

	var list []Config
	if err := yaml.Unmarshal([]byte("- {name: t1, type: tester, tester: {target: here}}\n- {name: t2, type: tester, tester: {copies: 3}}\n"), &list); err != nil {
		t.Fatal(err)
	}
	for i := range list {
		list[i].SetDefaults()
	}
	err := ValidateAll(list)
	if err == nil || !strings.Contains(err.Error(), "sinks[1].tester.target: required") || strings.Contains(err.Error(), "sinks[0]") {
		t.Fatalf("validation: %v", err)
	}
	s, err := New(list[0], Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.(testSink).cfg; got != (testSection{Target: "here", Copies: 1}) {
		t.Errorf("the sink got %+v", got)
	}

	out, err := yaml.Marshal(list[0])
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if sec, ok := back.Section.(*testSection); !ok || *sec != (testSection{Target: "here", Copies: 1}) {
		t.Errorf("written as\n%s\nread back as %#v", out, back.Section)
	}

	if err := yaml.Unmarshal([]byte("{name: t3, type: tester, tester: {target: x, copiez: 2}}"), &back); err == nil || !strings.Contains(err.Error(), "field copiez not found in type registry.testSection") {
		t.Errorf("unknown key in the section: %v", err)
	}
}
