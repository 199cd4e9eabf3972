package secret

import (
	"reflect"
	"testing"
)

type inner struct {
	User     string   `yaml:"user"`
	Password string   `yaml:"password" secret:"true"`
	Keys     []string `yaml:"keys" secret:"true"`
}

type outer struct {
	Name    string
	Plain   inner
	Ptr     *inner
	List    []inner
	ByName  map[string]*inner
	Section any
	Empty   inner
	hidden  inner
}

// A field tagged secret is hidden wherever it is, with no list naming it,
// and the original is not changed.
func TestRedact(t *testing.T) {
	mk := func() inner { return inner{User: "u", Password: "pw-1", Keys: []string{"k-1", "", "k-2"}} }
	in := outer{
		Name: "n", Plain: mk(), Ptr: &inner{User: "p", Password: "pw-2"}, List: []inner{mk(), mk()},
		ByName: map[string]*inner{"a": {Password: "pw-3"}}, Section: &inner{Password: "pw-4"},
		Empty: inner{User: "e"}, hidden: inner{Password: "pw-5"},
	}
	before := deepCopy(t, in)

	out := Redact(in)

	want := inner{User: "u", Password: Hidden, Keys: []string{Hidden, "", Hidden}}
	if !reflect.DeepEqual(out.Plain, want) || !reflect.DeepEqual(out.List[1], want) {
		t.Errorf("nested struct or slice not hidden: %+v %+v", out.Plain, out.List)
	}
	if out.Ptr.Password != Hidden || out.Ptr.User != "p" || out.ByName["a"].Password != Hidden || out.Section.(*inner).Password != Hidden {
		t.Errorf("behind a pointer, map or interface: %+v %+v %+v", out.Ptr, out.ByName["a"], out.Section)
	}
	if out.Empty.Password != "" || out.Empty.Keys != nil || out.Name != "n" {
		t.Errorf("an unset secret shows as set, or a plain field changed: %+v", out)
	}
	if !reflect.DeepEqual(in, before) {
		t.Errorf("Redact changed its argument:\n%+v\nwas\n%+v", in, before)
	}
}

// deepCopy copies the test value by hand, for the comparison.
func deepCopy(t *testing.T, o outer) outer {
	t.Helper()
	cp := func(i inner) inner { i.Keys = append([]string(nil), i.Keys...); return i }
	c := o
	c.Plain = cp(o.Plain)
	p := cp(*o.Ptr)
	c.Ptr = &p
	c.List = []inner{cp(o.List[0]), cp(o.List[1])}
	a := cp(*o.ByName["a"])
	c.ByName = map[string]*inner{"a": &a}
	s := cp(*o.Section.(*inner))
	c.Section = &s
	return c
}
