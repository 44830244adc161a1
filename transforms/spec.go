package transforms

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/oneof"
)

// Spec is one entry of a job file's transforms list: exactly one of its
// fields is set. In YAML it is a mapping with one key:
//
//	transforms:
//	  - unicode: {mode: ascii}
//	  - annotations: {}       # or "annotations:" with no value: the defaults
//	  - custom: remove_emoji  # a func registered in a Registry
//
// Decoding rejects an entry with no key, two keys, an unknown key, or an
// unknown key inside a config, naming it. Code can also build Specs
// directly.
type Spec struct {
	Unicode     *UnicodeConfig     `yaml:"unicode,omitempty"`
	Metadata    *MetadataConfig    `yaml:"metadata,omitempty"`
	Annotations *AnnotationsConfig `yaml:"annotations,omitempty"`
	Geo         *GeoConfig         `yaml:"geo,omitempty"`
	// Custom is the name of a func in the Registry given to Build.
	Custom string `yaml:"custom,omitempty"`
}

// specKeys are the keys of a Spec, in the order error messages list them.
var specKeys = oneof.Keys(reflect.TypeFor[Spec]())

// UnmarshalYAML decodes a Spec from YAML (go.yaml.in/yaml/v3 and
// gopkg.in/yaml.v2/v3 call it). It takes the decoder's callback rather than
// a yaml.Node, so this package does not depend on a YAML library. Unknown
// keys inside a config are errors even when the caller's decoder is not
// strict, since a misspelt option silently meaning its default is the kind
// of mistake a bulk upload makes expensive.
func (s *Spec) UnmarshalYAML(unmarshal func(any) error) error {
	var scalar string
	if err := unmarshal(&scalar); err == nil && scalar != "" {
		return fmt.Errorf("transform entry %q: write a mapping with one key, such as \"%s: {}\" or \"custom: %s\"", scalar, scalar, scalar)
	}
	var raw map[string]any
	if err := unmarshal(&raw); err != nil {
		return fmt.Errorf("transform entry: want a mapping with one key (%s): %w", strings.Join(specKeys, ", "), err)
	}
	keys := sortedKeys(raw)
	switch {
	case len(keys) == 0:
		return fmt.Errorf("transform entry is empty: want one of %s", strings.Join(specKeys, ", "))
	case len(keys) > 1:
		return fmt.Errorf("transform entry has %d keys (%s): write one transform per list entry", len(keys), strings.Join(keys, ", "))
	}
	key := keys[0]
	// plain has Spec's fields and tags but not this method, so decoding into
	// it does not recurse.
	type plain Spec
	var p plain
	switch key {
	case "unicode", "metadata", "annotations", "geo":
		if err := unmarshal(&p); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	case "custom":
		name, ok := raw[key].(string)
		if !ok || name == "" {
			return fmt.Errorf("custom: want the name of a registered transform, got %v", raw[key])
		}
		p.Custom = name
	default:
		return fmt.Errorf("unknown transform %q (want one of %s)", key, strings.Join(specKeys, ", "))
	}
	// A key with no value ("annotations:") decodes to a nil pointer: it
	// means the defaults.
	var cfg any
	switch key {
	case "unicode":
		if p.Unicode == nil {
			p.Unicode = &UnicodeConfig{}
		}
		cfg = *p.Unicode
	case "metadata":
		if p.Metadata == nil {
			p.Metadata = &MetadataConfig{}
		}
		cfg = *p.Metadata
	case "annotations":
		if p.Annotations == nil {
			p.Annotations = &AnnotationsConfig{}
		}
		cfg = *p.Annotations
	case "geo":
		if p.Geo == nil {
			p.Geo = &GeoConfig{}
		}
		cfg = *p.Geo
	}
	if cfg != nil {
		if err := checkKeys(raw[key], reflect.TypeOf(cfg), key); err != nil {
			return err
		}
	}
	*s = Spec(p)
	return nil
}

// checkKeys reports the first key of the decoded mapping v that is not a
// yaml key of struct type t, recursing into struct-typed fields. Map-typed
// fields (static) take any key.
func checkKeys(v any, t reflect.Type, path string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return nil // null, or a type error the decoder already reported
	}
	fields := make(map[string]reflect.Type, t.NumField())
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = f.Type
		names = append(names, name)
	}
	for _, k := range sortedKeys(m) {
		ft, ok := fields[k]
		if !ok {
			return fmt.Errorf("%s: unknown key %q (want one of %s)", path, k, strings.Join(names, ", "))
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			if err := checkKeys(m[k], ft, path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate reports whether exactly one field is set and, for a built-in
// transform, whether its config is valid. It does not look custom names up:
// Build does, in its registry.
func (s Spec) Validate() error {
	key, err := s.key()
	if err != nil {
		return err
	}
	switch key {
	case "unicode":
		err = s.Unicode.Validate()
	case "metadata":
		err = s.Metadata.Validate()
	case "annotations":
		err = s.Annotations.Validate()
	case "geo":
		err = s.Geo.Validate()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// key returns the name of the one field set.
func (s Spec) key() (string, error) { return oneof.Key(s, "transform spec") }

// Build returns the transforms that specs describe, in order. Custom names
// are looked up in reg, or in DefaultRegistry() when reg is nil. opts go to
// every built-in constructor (WithLogger). The error names the entry by its
// index and key ("transforms[2] unicode: mode: want clean or ascii, got
// "x"") and, for an unknown custom name, lists the registered ones. Build
// does no I/O.
func Build(specs []Spec, reg *Registry, opts ...Option) ([]pipeline.Transform, error) {
	if reg == nil {
		reg = defaultRegistry
	}
	out := make([]pipeline.Transform, 0, len(specs))
	for i, s := range specs {
		key, err := s.key()
		if err != nil {
			return nil, fmt.Errorf("transforms[%d]: %w", i, err)
		}
		var t pipeline.Transform
		switch key {
		case "unicode":
			t, err = NewUnicode(*s.Unicode, opts...)
		case "metadata":
			t, err = NewMetadata(*s.Metadata, opts...)
		case "annotations":
			t, err = NewAnnotations(*s.Annotations, opts...)
		case "geo":
			t, err = NewGeo(*s.Geo, opts...)
		case "custom":
			t, err = reg.transform(s.Custom)
		}
		if err != nil {
			return nil, fmt.Errorf("transforms[%d] %s: %w", i, key, err)
		}
		out = append(out, t)
	}
	return out, nil
}
