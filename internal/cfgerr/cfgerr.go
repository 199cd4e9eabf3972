// Package cfgerr puts configuration errors under the path of the section
// they come from, so that every error names the full field path
// ("enrich.session.timeout: ...").
package cfgerr

import (
	"errors"
	"fmt"
)

// Prefix returns err with "name." before each of the errors joined in it
// (errors.Join), or nil when err is nil. name may end in an index ("sinks[2]").
func Prefix(name string, err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Prefix(name, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s.%w", name, err)
}
