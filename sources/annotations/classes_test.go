package annotations_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/sources/annotations"
)

func TestReadDataYAML(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"list", "names: [Defected Orange, Good Orange]\n", []string{"Defected Orange", "Good Orange"}, ""},
		{"block list with nc", "path: ../datasets/fruit\ntrain: images/train\nval: images/val\nnc: 2\nnames:\n  - cat\n  - Traffic Light\n", []string{"cat", "Traffic Light"}, ""},
		{"map", "names:\n  0: person\n  1: cell phone\n  2: Traffic Light\n", []string{"person", "cell phone", "Traffic Light"}, ""},
		{"map out of order", "names: {1: dog, 0: cat}\nnc: 2\n", []string{"cat", "dog"}, ""},
		{"numeric name", "names: [1, 'yes']\n", []string{"1", "yes"}, ""},
		{"nc differs", "nc: 3\nnames: [a, b]\n", nil, "d.yaml: nc is 3 but names has 2 classes"},
		{"gap in map", "names: {0: a, 2: c}\n", nil, "class 2 is given but the classes below it are not all there"},
		{"repeated index", "names: {0: a, 0: b}\n", nil, ""}, // yaml itself refuses repeated keys
		{"bad index", "names: {zero: a}\n", nil, `key "zero" is not a class index`},
		{"no names", "nc: 2\n", nil, "no names key"},
		{"empty names", "names: []\n", nil, "names is empty"},
		{"empty name", "names: [a, '']\n", nil, "class 1 has an empty name"},
		{"nested", "names: [[a]]\n", nil, "class 0 is not a name"},
		{"scalar names", "names: cat\n", nil, "want a list or a map"},
		{"empty file", "", nil, "empty file"},
		{"bad yaml", "names: [a\n", nil, "d.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := annotations.ReadDataYAML("d.yaml", strings.NewReader(tc.in))
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestFindClasses: with classes unset, the labels folder and then the
// dataset root are searched, as Ultralytics and Darknet lay datasets out.
func TestFindClasses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		file  string
		want  []string
	}{
		{"ultralytics data.yaml at the root", map[string]string{"data.yaml": "names: {0: Defected Orange}\n", "labels/train/a.txt": ""}, "data.yaml", []string{"Defected Orange"}},
		{"classes.txt in labels wins", map[string]string{"data.yaml": "names: [x]\n", "labels/classes.txt": "cat\n"}, "labels/classes.txt", []string{"cat"}},
		{"darknet obj.names", map[string]string{"obj.names": "car\nbus\n", "labels/a.txt": ""}, "obj.names", []string{"car", "bus"}},
		{"data.yml", map[string]string{"data.yml": "names: [a]\n", "labels/a.txt": ""}, "data.yml", []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, tc.files)
			cfg := annotations.Config{Format: "yolo", Path: filepath.Join(root, "labels")}
			p, names, err := annotations.FindClasses(cfg)
			if err != nil || p != filepath.Join(root, filepath.FromSlash(tc.file)) || !slices.Equal(names, tc.want) {
				t.Fatalf("got %s %q %v; want %s %q", p, names, err, tc.file, tc.want)
			}
			x, err := annotations.Open(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !x.Owns(p) {
				t.Errorf("the classes file %s is not owned: it would be walked as an input", p)
			}
		})
	}
	root := t.TempDir()
	write(t, root, map[string]string{"labels/a.txt": ""})
	_, _, err := annotations.FindClasses(annotations.Config{Format: "yolo", Path: filepath.Join(root, "labels")})
	if err == nil || !strings.Contains(err.Error(), "put data.yaml, classes.txt or obj.names in") {
		t.Fatalf("no classes: %v", err)
	}
}
