package units

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "64MiB": 64 << 20, "20MB": 20e6, "1.5KiB": 1536, " 2 GiB": 2 << 30} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "MiB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q): no error", bad)
		}
	}
	if s := ByteSize(64 << 20).String(); s != "64MiB" {
		t.Errorf("String = %q", s)
	}
}

func TestYAMLForms(t *testing.T) {
	var v struct {
		D Duration `yaml:"d"`
		B ByteSize `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("d: 1.5s\nb: 64MiB\n"), &v); err != nil || v.D != Duration(1500e6) || v.B != 64<<20 {
		t.Fatalf("decode = %+v, %v", v, err)
	}
	out, err := yaml.Marshal(v)
	if err != nil || string(out) != "d: 1.5s\nb: 64MiB\n" {
		t.Fatalf("encode = %q, %v", out, err)
	}
	for _, doc := range []string{"d: forever\n", "b: lots\n", "d: [1s]\n"} {
		if err := yaml.Unmarshal([]byte(doc), &v); err == nil {
			t.Errorf("%q: no error", doc)
		}
	}
}
