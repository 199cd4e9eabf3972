package registry

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// plain is Config without its YAML methods.
type plain Config

// UnmarshalYAML reads an entry: the common keys into c, the section of
// c.Type into c.Section (a new *C of its Kind), and notes the sections of
// other types for Validate. Unknown keys are errors, as everywhere in the
// configuration (yaml.v3 does not pass KnownFields on to an Unmarshaler, so
// decodeStrict checks them).
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return n.Decode((*plain)(c))
	}
	common := &yaml.Node{Kind: yaml.MappingNode, Tag: n.Tag, Line: n.Line, Column: n.Column}
	type section struct {
		typ  string
		node *yaml.Node
	}
	var sections []section
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if lookup(key.Value) != nil {
			sections = append(sections, section{key.Value, value})
			continue
		}
		common.Content = append(common.Content, key, value)
	}
	var terrs []string
	collect := func(err error) error {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			terrs = append(terrs, te.Errors...)
			return nil
		}
		return err
	}
	if err := collect(decodeStrict(common, (*plain)(c))); err != nil {
		return err
	}
	for _, s := range sections {
		if s.typ != c.Type {
			c.others = append(c.others, s.typ)
			continue
		}
		if s.node.Kind == yaml.ScalarNode && s.node.Tag == "!!null" {
			continue // `webhook:` with nothing: the section is missing
		}
		sec, err := lookup(s.typ).decode(s.node)
		if err := collect(err); err != nil {
			return err
		}
		if sec != nil {
			c.Section = sec
		}
	}
	if len(terrs) > 0 {
		return &yaml.TypeError{Errors: terrs}
	}
	return nil
}

// MarshalYAML writes the entry back as it is read: the section under the
// key its type names.
func (c Config) MarshalYAML() (any, error) {
	var n yaml.Node
	if err := n.Encode(plain(c)); err != nil {
		return nil, err
	}
	if c.Section != nil && c.Type != "" {
		var sec yaml.Node
		if err := sec.Encode(c.Section); err != nil {
			return nil, fmt.Errorf("sink %s: %w", c.Name, err)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: c.Type}, &sec)
	}
	return &n, nil
}

// decodeStrict decodes n into out (a pointer), refusing the keys that name
// no field, with yaml.v3's own message ("line 3: field x not found in type
// webhook.Config").
func decodeStrict(n *yaml.Node, out any) error {
	var unknown []string
	checkKnown(n, reflect.TypeOf(out), &unknown)
	err := n.Decode(out)
	if len(unknown) == 0 {
		return err
	}
	var te *yaml.TypeError
	if err == nil || errors.As(err, &te) {
		if te != nil {
			unknown = append(unknown, te.Errors...)
		}
		return &yaml.TypeError{Errors: unknown}
	}
	return err
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkKnown appends to unknown a message for every mapping key of n that
// names no field of the struct type t (or of the structs within it).
func checkKnown(n *yaml.Node, t reflect.Type, unknown *[]string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerType) {
			return
		}
		t = t.Elem()
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields, open := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			if key.Value == "<<" {
				checkKnown(value, t, unknown)
				continue
			}
			ft, ok := fields[key.Value]
			switch {
			case ok:
				checkKnown(value, ft, unknown)
			case !open:
				*unknown = append(*unknown, fmt.Sprintf("line %d: field %s not found in type %s", key.Line, key.Value, typeName(t)))
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				checkKnown(item, t.Elem(), unknown)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				checkKnown(n.Content[i], t.Elem(), unknown)
			}
		}
	}
}

// typeName is t as messages show it: plain is a Config.
func typeName(t reflect.Type) string {
	if t == reflect.TypeFor[plain]() {
		return "registry.Config"
	}
	return t.String()
}

// yamlFields maps the YAML keys of struct t to their types, inline fields
// included; open is true when an inline map takes every other key.
func yamlFields(t reflect.Type) (fields map[string]reflect.Type, open bool) {
	fields = map[string]reflect.Type{}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || !sf.IsExported() && !sf.Anonymous {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				open = true
				continue
			}
			inner, openInner := yamlFields(ft)
			for k, v := range inner {
				fields[k] = v
			}
			open = open || openInner
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		fields[name] = sf.Type
	}
	return fields, open
}
