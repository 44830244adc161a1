package annotations

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// classCandidates are the files FindClasses looks for, in order, in each
// folder it searches: Ultralytics' data.yaml, the plain one-name-per-line
// classes.txt, and Darknet's obj.names.
var classCandidates = []string{"data.yaml", "data.yml", "classes.txt", "obj.names"}

// FindClasses returns the YOLO classes file of cfg and the class names in
// it. With cfg.Classes set, that file is read. Otherwise the labels folder
// (cfg.Path) is searched, then the dataset root (its parent, where
// Ultralytics keeps data.yaml beside images/ and labels/), for data.yaml,
// data.yml, classes.txt or obj.names, and the first found is read. A .yaml or .yml
// file is read with ReadDataYAML, any other with ReadClasses.
//
// Every error means the configuration cannot be used (no classes file, or
// one that is unreadable or malformed): it names the file and what is
// wrong.
func FindClasses(cfg Config) (path string, names []string, err error) {
	path = cfg.Classes
	if path == "" {
		dirs := []string{cfg.Path, filepath.Dir(filepath.Clean(cfg.Path))}
	search:
		for _, d := range dirs {
			for _, c := range classCandidates {
				p := filepath.Join(d, c)
				if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
					path = p
					break search
				}
			}
		}
		if path == "" {
			return "", nil, fmt.Errorf("yolo needs the class names: set classes, or put data.yaml, classes.txt or obj.names in %s or %s",
				dirs[0], dirs[1])
		}
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("classes file %s does not exist", path)
		}
		return "", nil, err
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		names, err = ReadDataYAML(path, f)
	default:
		names, err = ReadClasses(path, f)
	}
	return path, names, err
}

// ReadDataYAML reads the class names of an Ultralytics dataset file
// (data.yaml): its "names" key, either a list (names: [cat, dog]) or a map
// from class index to name (names: {0: cat, 1: dog}), whose indexes must be
// 0 to n-1. When "nc" is present it must equal the number of names. Other
// keys (path, train, val, download...) are ignored. Errors name the file.
func ReadDataYAML(name string, r io.Reader) ([]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, readLimit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > readLimit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, readLimit)
	}
	var doc struct {
		Names yaml.Node `yaml:"names"`
		NC    *int      `yaml:"nc"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file; want a names key", name)
		}
		return nil, fmt.Errorf("%s: %v", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	n := &doc.Names
	var names []string
	switch n.Kind {
	case 0:
		return nil, fmt.Errorf("%s: no names key; want names: [a, b] or names: {0: a, 1: b}", name)
	case yaml.SequenceNode:
		for i, e := range n.Content {
			s, err := className(name, e, i)
			if err != nil {
				return nil, err
			}
			names = append(names, s)
		}
	case yaml.MappingNode:
		byIndex := make(map[int]string, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			var k int
			if err := n.Content[i].Decode(&k); err != nil || k < 0 {
				return nil, fmt.Errorf("%s line %d: names: key %q is not a class index (0, 1, 2...)", name, n.Content[i].Line, n.Content[i].Value)
			}
			if _, dup := byIndex[k]; dup {
				return nil, fmt.Errorf("%s line %d: names: class %d is listed twice", name, n.Content[i].Line, k)
			}
			s, err := className(name, n.Content[i+1], k)
			if err != nil {
				return nil, err
			}
			byIndex[k] = s
		}
		names = make([]string, len(byIndex))
		for k, s := range byIndex {
			if k >= len(names) {
				return nil, fmt.Errorf("%s: names: class %d is given but the classes below it are not all there (%d names, want indexes 0 to %d)",
					name, k, len(names), len(names)-1)
			}
			names[k] = s
		}
	default:
		return nil, fmt.Errorf("%s line %d: names: want a list or a map from class index to name", name, n.Line)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: names is empty", name)
	}
	if doc.NC != nil && *doc.NC != len(names) {
		return nil, fmt.Errorf("%s: nc is %d but names has %d classes", name, *doc.NC, len(names))
	}
	return names, nil
}

// className returns the class name in node e (class k of file name).
func className(name string, e *yaml.Node, k int) (string, error) {
	if e.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("%s line %d: names: class %d is not a name", name, e.Line, k)
	}
	s := strings.TrimSpace(e.Value)
	switch {
	case s == "":
		return "", fmt.Errorf("%s line %d: names: class %d has an empty name", name, e.Line, k)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%s line %d: names: class %d is not valid UTF-8", name, e.Line, k)
	}
	return s, nil
}
