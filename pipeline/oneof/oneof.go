// Package oneof decides which field of a "one of" struct is set: a struct
// of which exactly one field may be set, named in YAML by its key, such as
// a job file's source entry or transform entry.
package oneof

import (
	"fmt"
	"reflect"
	"strings"
)

// Keys returns the yaml keys of the fields of the struct type t, in order.
func Keys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k := key(t.Field(i)); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Key returns the yaml key of the one field of v (a struct) that is set: a
// non-nil pointer, map or slice, or a non-zero value. It is an error when
// none or more than one is set; the message calls v what and lists the
// keys.
func Key(v any, what string) (string, error) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	var set []string
	for i := range rv.NumField() {
		k := key(rv.Type().Field(i))
		if k != "" && !rv.Field(i).IsZero() {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 1:
		return set[0], nil
	case 0:
		return "", fmt.Errorf("empty %s: set one of %s", what, strings.Join(Keys(rv.Type()), ", "))
	}
	return "", fmt.Errorf("%s sets %s: set exactly one per list entry", what, strings.Join(set, " and "))
}

func key(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
