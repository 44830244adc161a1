package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes the YAML document b into v, rejecting unknown keys,
// and rewrites the decoder's messages into the user's terms: each names
// the key (upload.concurrency), what is expected and what was given, as in
// `line 5: upload.concurrency: want an integer, got "four"`.
func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return cleanYAMLError(err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root) // it decoded above
	keys := keyPaths(&root)
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = explain(m, keys)
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// keyedValue is a scalar value of the document and the dotted key that
// holds it (upload.batch_size, sources[0].dir.path).
type keyedValue struct {
	line, col int
	value     string
	key       string
}

// keyPaths lists every scalar of the document with its key path.
func keyPaths(root *yaml.Node) []keyedValue {
	var out, keyNodes, collections []keyedValue
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			collections = append(collections, keyedValue{n.Line, n.Column, "", path})
			for i := 0; i+1 < len(n.Content); i += 2 {
				kn := n.Content[i]
				k := kn.Value
				if path != "" {
					k = path + "." + k
				}
				keyNodes = append(keyNodes, keyedValue{kn.Line, kn.Column, kn.Value, k})
				walk(n.Content[i+1], k)
			}
		case yaml.SequenceNode:
			collections = append(collections, keyedValue{n.Line, n.Column, "", path})
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.AliasNode:
			if n.Alias != nil {
				walk(n.Alias, path)
			}
		case yaml.ScalarNode:
			out = append(out, keyedValue{n.Line, n.Column, n.Value, path})
		}
	}
	walk(root, "")
	// Values first: a message about a value is matched to it before a key
	// of the same text on the same line.
	// The innermost collection of a line (the rightmost) is the one a
	// message about that line means.
	slices.SortStableFunc(collections, func(a, b keyedValue) int { return b.col - a.col })
	return slices.Concat(out, collections, keyNodes)
}

// typeErrorRE matches yaml.v3's "line 5: cannot unmarshal !!str `many` into int".
var typeErrorRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) (?:`(.*)` )?into (.+)$")

// unknownFieldRE matches "line 3: field batchsize not found in type configs.Upload".
var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type`)

// ownErrorRE matches the errors of the UnmarshalYAML methods of package
// units and the sources: "line 5 column 9: want a duration ...".
var ownErrorRE = regexp.MustCompile(`^line (\d+) column (\d+): (.*)$`)

// explain rewrites one decoder message with the key it is about.
func explain(msg string, keys []keyedValue) string {
	if m := ownErrorRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		for _, k := range keys {
			if k.line == line && k.col == col {
				return fmt.Sprintf("line %d: %s: %s", line, k.key, m[3])
			}
		}
		return fmt.Sprintf("line %d: %s", line, m[3])
	}
	if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		for _, k := range keys {
			if k.line == line && k.value == m[2] && strings.HasSuffix(k.key, m[2]) {
				return fmt.Sprintf("line %d: %s: unknown key", line, k.key)
			}
		}
		return cleanMessage(msg)
	}
	m := typeErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return cleanMessage(msg)
	}
	line, _ := strconv.Atoi(m[1])
	tag, value, goType := m[2], m[3], m[4]
	key := ""
	for _, k := range keys {
		// yaml.v3 shortens long values in its message: match the start.
		if k.line == line && k.key != "" && (k.value == value || value != "" && strings.HasPrefix(k.value, strings.TrimSuffix(value, " ..."))) {
			key = k.key
			break
		}
	}
	got := strconv.Quote(value)
	if tag == "map" || tag == "seq" {
		got = map[string]string{"map": "a mapping", "seq": "a list"}[tag]
	}
	want := expected(goType)
	if key == "" {
		return fmt.Sprintf("line %d: want %s, got %s", line, want, got)
	}
	return fmt.Sprintf("line %d: %s: want %s, got %s", line, key, want, got)
}

// expected says in words what a Go type named in a decoder message takes.
func expected(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case goType == "string", goType == "client.Secret":
		return "a string"
	case goType == "time.Duration":
		return "a duration like 500ms, 2s or 10m"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping"
	}
	return "a value of type " + cleanMessage(goType)
}

// cleanYAMLError rewrites yaml.v3's Go type names into the user's terms.
func cleanYAMLError(err error) error {
	return errors.New(cleanMessage(err.Error()))
}

func cleanMessage(msg string) string {
	msg = strings.ReplaceAll(msg, "yaml: unmarshal errors:\n  ", "")
	for _, pkg := range []string{"configs.", "transforms.", "dir.", "manifest.", "urllist.", "report.", "annotations.", "pipeline."} {
		msg = strings.ReplaceAll(msg, pkg, "")
	}
	return msg
}
