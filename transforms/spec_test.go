package transforms_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// job is the part of a job file the configs package will decode.
type job struct {
	Transforms []transforms.Spec `yaml:"transforms"`
}

func decodeJob(t *testing.T, src string, strict bool) ([]transforms.Spec, error) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(strict)
	var j job
	err := dec.Decode(&j)
	return j.Transforms, err
}

func TestSpecDecodeBriefExample(t *testing.T) {
	const src = `
transforms:
  - unicode: {mode: ascii, metadata_fields: [caption, author.name]}
  - metadata: {fields: [filename, rel_path, source, size, sha256, mime, width, height, split], static: {project: demo, n: 3, tags: [a, 1.5, true, null]}, path_regex: '(?P<class>[^/]+)/(?P<shot>\d+)\.jpg$'}
  - annotations: {}
  - annotations:
  - geo: {from_metadata: {lat: gps.lat, lon: gps.lon, remove: true}}
  - custom: remove_emoji        # a Go func registered by the user's own main
`
	for _, strict := range []bool{false, true} {
		specs, err := decodeJob(t, src, strict)
		if err != nil {
			t.Fatalf("strict=%v: %v", strict, err)
		}
		want := []transforms.Spec{
			{Unicode: &transforms.UnicodeConfig{Mode: "ascii", MetadataFields: []string{"caption", "author.name"}}},
			{Metadata: &transforms.MetadataConfig{
				Fields:    []string{"filename", "rel_path", "source", "size", "sha256", "mime", "width", "height", "split"},
				Static:    map[string]any{"project": "demo", "n": 3, "tags": []any{"a", 1.5, true, nil}},
				PathRegex: `(?P<class>[^/]+)/(?P<shot>\d+)\.jpg$`,
			}},
			{Annotations: &transforms.AnnotationsConfig{}},
			{Annotations: &transforms.AnnotationsConfig{}},
			{Geo: &transforms.GeoConfig{FromMetadata: &transforms.GeoFields{Lat: "gps.lat", Lon: "gps.lon", Remove: true}}},
			{Custom: "remove_emoji"},
		}
		if d := cmp.Diff(want, specs); d != "" {
			t.Errorf("strict=%v: specs (-want +got):\n%s", strict, d)
		}
		for i, s := range specs {
			if err := s.Validate(); err != nil {
				t.Errorf("specs[%d].Validate: %v", i, err)
			}
		}
	}
}

func TestSpecDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, entry, wantErr string
	}{
		{"unknown transform", `- resize: {w: 3}`, `unknown transform "resize" (want one of unicode, metadata, annotations, geo, custom)`},
		{"two keys in one entry", `- {unicode: {mode: ascii}, geo: {}}`, "transform entry has 2 keys (geo, unicode): write one transform per list entry"},
		{"two keys block style", "- unicode: {}\n  custom: x", "transform entry has 2 keys (custom, unicode)"},
		{"unknown config key", `- unicode: {mode: ascii, modee: clean}`, `unicode: unknown key "modee" (want one of mode, text, metadata_fields, invalid_utf8, empty, max_text_bytes)`},
		{"unknown nested key", `- geo: {from_metadata: {lat: a, lng: b}}`, `geo.from_metadata: unknown key "lng"`},
		{"unknown annotations key", `- annotations: {on_invalid: drop, source_size: {w: a}}`, `annotations.source_size: unknown key "w"`},
		{"metadata static takes any key", `- metadata: {static: {anything: 1}, bogus: 2}`, `metadata: unknown key "bogus"`},
		{"scalar entry", `- geo`, `transform entry "geo": write a mapping with one key, such as "geo: {}" or "custom: geo"`},
		{"empty entry", `- {}`, "transform entry is empty"},
		{"custom without a name", `- custom:`, "custom: want the name of a registered transform"},
		{"custom with a mapping", `- custom: {name: x}`, "custom: want the name of a registered transform"},
		{"type error", `- unicode: {metadata_fields: 3}`, "unicode: yaml: unmarshal errors"},
		{"scalar config", `- unicode: ascii`, "unicode: yaml: unmarshal errors"},
		{"list entry", `- [a, b]`, "transform entry: want a mapping with one key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeJob(t, "transforms:\n  "+strings.ReplaceAll(tc.entry, "\n", "\n  ")+"\n", false)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		spec    transforms.Spec
		wantErr string
	}{
		{spec: transforms.Spec{Geo: &transforms.GeoConfig{}}},
		{spec: transforms.Spec{Custom: "x"}},
		{spec: transforms.Spec{}, wantErr: "empty transform spec"},
		{spec: transforms.Spec{Geo: &transforms.GeoConfig{}, Custom: "x"}, wantErr: "transform spec sets geo and custom: set exactly one"},
		{spec: transforms.Spec{Unicode: &transforms.UnicodeConfig{Mode: "x"}}, wantErr: "unicode: mode:"},
		{spec: transforms.Spec{Metadata: &transforms.MetadataConfig{}}, wantErr: "metadata: fields, static, path_regex: nothing to add"},
		{spec: transforms.Spec{Annotations: &transforms.AnnotationsConfig{OnInvalid: "x"}}, wantErr: "annotations: on_invalid:"},
		{spec: transforms.Spec{Geo: &transforms.GeoConfig{FromMetadata: &transforms.GeoFields{}}}, wantErr: "geo: from_metadata.lat:"},
	} {
		err := tc.spec.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.spec, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%+v: err = %v, want %q", tc.spec, err, tc.wantErr)
		}
	}
}

func TestBuild(t *testing.T) {
	reg := transforms.NewRegistry()
	noop := func(context.Context, *pipeline.Item) error { return nil }
	for _, name := range []string{"remove_emoji", "lowercase"} {
		if err := reg.Register(name, noop); err != nil {
			t.Fatal(err)
		}
	}
	specs, err := decodeJob(t, `
transforms:
  - unicode: {}
  - metadata: {fields: [mime]}
  - annotations: {}
  - geo: {}
  - custom: remove_emoji
`, true)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := transforms.Build(specs, reg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tr := range ts {
		names = append(names, tr.Name())
	}
	if d := cmp.Diff([]string{"unicode", "metadata", "annotations", "geo", "remove_emoji"}, names); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		name    string
		specs   []transforms.Spec
		reg     *transforms.Registry
		wantErr string
	}{
		{name: "bad config names index and key", specs: []transforms.Spec{{Geo: &transforms.GeoConfig{}}, {Unicode: &transforms.UnicodeConfig{Empty: "x"}}},
			reg: reg, wantErr: `transforms[1] unicode: empty: want fail, skip or keep, got "x"`},
		{name: "unknown custom lists registered", specs: []transforms.Spec{{Custom: "remove_emojis"}}, reg: reg,
			wantErr: `transforms[0] custom: custom transform "remove_emojis" is not registered (registered: lowercase, remove_emoji)`},
		{name: "unknown custom, empty registry", specs: []transforms.Spec{{Custom: "x"}}, reg: transforms.NewRegistry(),
			wantErr: "no custom transforms are: a Go program that runs the job registers its funcs by name before the run"},
		{name: "two set", specs: []transforms.Spec{{Geo: &transforms.GeoConfig{}, Annotations: &transforms.AnnotationsConfig{}}}, reg: reg,
			wantErr: "transforms[0]: transform spec sets annotations and geo"},
		{name: "empty spec", specs: []transforms.Spec{{}}, reg: reg, wantErr: "transforms[0]: empty transform spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := transforms.Build(tc.specs, tc.reg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || ts != nil {
				t.Fatalf("Build = %v, %v\nwant an error containing %q", ts, err, tc.wantErr)
			}
		})
	}
	if ts, err := transforms.Build(nil, reg); err != nil || len(ts) != 0 {
		t.Errorf("Build(nil) = %v, %v", ts, err)
	}
}

func TestBuildUsesDefaultRegistry(t *testing.T) {
	// The default registry is process-wide, so with -count=N a later run
	// finds the name taken and the first run's func in place.
	const name = "transforms_test_default_registry"
	var calls atomic.Int32
	err := transforms.Register(name, func(context.Context, *pipeline.Item) error { calls.Add(1); return nil })
	first := err == nil
	if err != nil && !errors.Is(err, transforms.ErrDuplicate) {
		t.Fatal(err)
	}
	ts, err := transforms.Build([]transforms.Spec{{Custom: name}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts[0].Apply(context.Background(), &pipeline.Item{}); err != nil {
		t.Fatal(err)
	}
	if first && calls.Load() != 1 {
		t.Errorf("the registered func ran %d times, want 1", calls.Load())
	}
	if !slices.Contains(transforms.DefaultRegistry().Names(), name) {
		t.Errorf("DefaultRegistry.Names() = %v, want it to hold %q", transforms.DefaultRegistry().Names(), name)
	}
}

func TestRegistryErrors(t *testing.T) {
	noop := func(context.Context, *pipeline.Item) error { return nil }
	reg := transforms.NewRegistry()
	if err := reg.Register("a", noop); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		f       pipeline.TransformFunc
		wantErr string
		dup     bool
	}{
		{name: "", f: noop, wantErr: "empty name"},
		{name: "has space", f: noop, wantErr: "white space"},
		{name: "tab\t", f: noop, wantErr: "white space"},
		{name: "b", f: nil, wantErr: "nil func"},
		{name: "a", f: noop, wantErr: `register transform "a": already registered`, dup: true},
	} {
		err := reg.Register(tc.name, tc.f)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, transforms.ErrDuplicate) != tc.dup {
			t.Errorf("Register(%q) = %v, want %q (duplicate %v)", tc.name, err, tc.wantErr, tc.dup)
		}
	}
	if d := cmp.Diff([]string{"a"}, reg.Names()); d != "" {
		t.Errorf("names after failed registrations (-want +got):\n%s", d)
	}
	var zero transforms.Registry // the zero value works
	if err := zero.Register("z", noop); err != nil {
		t.Errorf("zero Registry: %v", err)
	}
	if _, ok := zero.Lookup("z"); !ok {
		t.Error("zero Registry: lookup failed")
	}
}

func TestMustRegisterPanicsOnDuplicate(t *testing.T) {
	const name = "transforms_test_must_register"
	noop := func(context.Context, *pipeline.Item) error { return nil }
	_ = transforms.Register(name, noop) // ensure it is taken, whatever -count says
	defer func() {
		if recover() == nil {
			t.Error("MustRegister of a taken name did not panic")
		}
	}()
	transforms.MustRegister(name, noop)
}

func TestRegistryConcurrent(t *testing.T) {
	reg := transforms.NewRegistry()
	noop := func(context.Context, *pipeline.Item) error { return nil }
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("f%d_%d", g, i)
				if err := reg.Register(name, noop); err != nil {
					t.Error(err)
				}
				if _, ok := reg.Lookup(name); !ok {
					t.Errorf("%s not found", name)
				}
				_ = reg.Names()
			}
		})
	}
	wg.Wait()
	if n := len(reg.Names()); n != 400 {
		t.Errorf("%d names, want 400", n)
	}
}
