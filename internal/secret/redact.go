package secret

import "reflect"

// Hidden replaces a secret's value where a configuration is shown.
const Hidden = "(hidden)"

// Redact returns a copy of v in which every secret value is Hidden: the
// string fields, and the elements of the []string fields, tagged
// `secret:"true"`, wherever they are in v (nested structs, pointers,
// slices, maps, interfaces). Empty values stay empty, so that what is not
// set still shows as not set. v itself, and what it points to, are not
// changed: what Redact changes it copies first.
//
// A field holding a secret is marked where its type is declared:
//
//	Password string `yaml:"password" secret:"true"`
//
// and every place that shows the configuration (`sharelog config`) hides
// it, with no list to keep.
func Redact[T any](v T) T {
	out := reflect.New(reflect.TypeFor[T]()).Elem()
	out.Set(reflect.ValueOf(&v).Elem())
	redact(out)
	return out.Interface().(T)
}

// redact hides the secrets within v, which is settable and no longer
// shares memory with the original at its own level: it copies what is
// beneath before changing it.
func redact(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if sf.Tag.Get("secret") == "true" {
				hide(f)
				continue
			}
			redact(f)
		}
	case reflect.Pointer:
		if v.IsNil() || !holdsSecret(v.Type().Elem(), nil) {
			return
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(v.Elem())
		redact(c.Elem())
		v.Set(c)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		c := reflect.New(v.Elem().Type()).Elem()
		c.Set(v.Elem())
		redact(c)
		v.Set(c)
	case reflect.Slice:
		if v.IsNil() || !holdsSecret(v.Type().Elem(), nil) {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		for i := range c.Len() {
			redact(c.Index(i))
		}
		v.Set(c)
	case reflect.Array:
		for i := range v.Len() {
			redact(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || !holdsSecret(v.Type().Elem(), nil) {
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			redact(e)
			c.SetMapIndex(it.Key(), e)
		}
		v.Set(c)
	}
}

// hide replaces the secret value in f, a string or []string.
func hide(f reflect.Value) {
	switch {
	case f.Kind() == reflect.String:
		if f.Len() > 0 {
			f.SetString(Hidden)
		}
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		if f.IsNil() {
			return
		}
		c := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
		for i := range f.Len() {
			if f.Index(i).Len() > 0 {
				c.Index(i).SetString(Hidden)
			}
		}
		f.Set(c)
	default:
		f.Set(reflect.Zero(f.Type())) // a secret of another shape: not shown at all
	}
}

// holdsSecret reports whether a value of type t can hold a secret: a tagged
// field, or an interface (whose dynamic value may). seen stops recursive
// types.
func holdsSecret(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	if seen == nil {
		seen = map[reflect.Type]bool{}
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsSecret(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			sf := t.Field(i)
			if sf.IsExported() && (sf.Tag.Get("secret") == "true" || holdsSecret(sf.Type, seen)) {
				return true
			}
		}
	}
	return false
}
