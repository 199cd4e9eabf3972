package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sharelog/sharelog/internal/secret"
)

// A string field whose YAML name says it holds a secret is tagged
// secret:"true", so that `sharelog config` hides it (secret.Redact); the
// names that only point at one (secret_file, keys_file, a secret.Ref) are
// not values.
func TestSecretFieldsAreTagged(t *testing.T) {
	var walk func(t reflect.Type, path string, seen map[reflect.Type]bool)
	var untagged []string
	walk = func(typ reflect.Type, path string, seen map[reflect.Type]bool) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			sf := typ.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if !sf.IsExported() || name == "-" {
				continue
			}
			elem := sf.Type
			if elem.Kind() == reflect.Slice {
				elem = elem.Elem()
			}
			last := name[strings.LastIndex(name, "_")+1:]
			if elem.Kind() == reflect.String && (last == "password" || last == "secret" || last == "keys" || last == "key" || last == "token") &&
				sf.Tag.Get("secret") != "true" {
				untagged = append(untagged, path+"."+name)
			}
			walk(sf.Type, path+"."+name, seen)
		}
	}
	walk(reflect.TypeFor[Config](), "", map[reflect.Type]bool{})
	if len(untagged) > 0 {
		t.Errorf("secret values not tagged secret:\"true\": %v", untagged)
	}

	cfg, _, err := Load("", []string{"SHARELOG_INGEST_KEYS=ingest-key-of-some-length-1", "SHARELOG_ENRICH_SESSION_SECRET=a-session-secret-of-at-least-32-bytes",
		"SHARELOG_KAFKA_SASL_MECHANISM=PLAIN", "SHARELOG_KAFKA_SASL_USERNAME=u", "SHARELOG_KAFKA_SASL_PASSWORD=sasl-password"})
	if err != nil {
		t.Fatal(err)
	}
	shown := secret.Redact(*cfg)
	if shown.Ingest.Keys[0] != secret.Hidden || shown.Enrich.Session.Secret != secret.Hidden || shown.Kafka.SASL.Password != secret.Hidden || shown.Kafka.SASL.Username != "u" {
		t.Errorf("shown: keys %v, session %q, sasl %q/%q", shown.Ingest.Keys, shown.Enrich.Session.Secret, shown.Kafka.SASL.Username, shown.Kafka.SASL.Password)
	}
	if cfg.Kafka.SASL.Password != "sasl-password" || cfg.Ingest.Keys[0] != "ingest-key-of-some-length-1" {
		t.Error("Redact changed the configuration itself")
	}
}
