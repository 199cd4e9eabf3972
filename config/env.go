package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// applyEnv sets every field whose SHARELOG_<PATH> variable is in environ.
func applyEnv(cfg *Config, environ []string) (warnings []string, err error) {
	vars := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	used := map[string]bool{}
	var errs []error
	walk(reflect.ValueOf(cfg).Elem(), "", func(path string, f reflect.Value) {
		name := Env(path)
		v, ok := vars[name]
		if !ok {
			return
		}
		used[name] = true
		if err := set(f, v); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %w", path, name, err))
		}
	})
	for k := range vars {
		if !used[k] && !strings.HasPrefix(k, EnvPrefix+"TEST_") {
			warnings = append(warnings, fmt.Sprintf("%s is not a configuration key; ignored", k))
		}
	}
	sort.Strings(warnings)
	return warnings, errors.Join(errs...)
}

// walk calls fn with the YAML path of every leaf field of the struct v.
func walk(v reflect.Value, prefix string, fn func(path string, f reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || !sf.IsExported() {
			continue
		}
		if opts == "inline" && sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			walk(v.Field(i), prefix, fn) // its keys are the parent's (kafka.tls.ca_file)
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct && f.Type() != durationType {
			walk(f, path, fn)
			continue
		}
		fn(path, f)
	}
}

// Keys returns every configuration key's YAML path, in declaration order.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(&Config{}).Elem(), "", func(path string, _ reflect.Value) { keys = append(keys, path) })
	return keys
}

func set(f reflect.Value, s string) error {
	if f.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 500ms, 30s, 2m)", s)
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		f.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		f.SetBool(b)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		f.SetFloat(x)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		var list []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				list = append(list, p)
			}
		}
		f.Set(reflect.ValueOf(list))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
