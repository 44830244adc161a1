package transforms

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// Registry maps names to user transform functions, so that a job file can
// list them as "custom: <name>". A user's own main registers its functions,
// then runs the standard CLI, which builds the job's transforms with Build.
// The zero value is an empty registry ready to use. A Registry is safe for
// concurrent use.
type Registry struct {
	mu    sync.RWMutex
	funcs map[string]pipeline.TransformFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// defaultRegistry is unexported so that no package can replace it; its
// contents are only reachable through the Registry methods, which lock.
var defaultRegistry = NewRegistry()

// DefaultRegistry returns the process-wide registry that Register fills and
// that Build uses when given a nil registry. It is safe for concurrent use.
func DefaultRegistry() *Registry { return defaultRegistry }

// ErrDuplicate is wrapped by Register's error for a name already taken.
var ErrDuplicate = errors.New("already registered")

// Register adds f under name. The name is what the job file writes after
// "custom:" and what reports show as "transform:<name>". It returns an error
// for an empty name or one with white space, a nil f, or a name already
// registered (wrapping ErrDuplicate). f must be safe for concurrent use (it
// runs on several workers at once) and follows the pipeline.Transform
// contract: nil keeps the item, pipeline.Skip drops it, any other error
// fails it; a panic fails the item.
func (r *Registry) Register(name string, f pipeline.TransformFunc) error {
	switch {
	case name == "":
		return fmt.Errorf("register transform: empty name")
	case strings.ContainsFunc(name, isSpace):
		return fmt.Errorf("register transform %q: the name contains white space", name)
	case f == nil:
		return fmt.Errorf("register transform %q: nil func", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.funcs[name]; dup {
		return fmt.Errorf("register transform %q: %w", name, ErrDuplicate)
	}
	if r.funcs == nil {
		r.funcs = make(map[string]pipeline.TransformFunc)
	}
	r.funcs[name] = f
	return nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// Lookup returns the func registered under name.
func (r *Registry) Lookup(name string) (pipeline.TransformFunc, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.funcs[name]
	return f, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.funcs))
	for n := range r.funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// transform returns the registered func as a Transform named name, or an
// error listing what is registered.
func (r *Registry) transform(name string) (pipeline.Transform, error) {
	if f, ok := r.Lookup(name); ok {
		return pipeline.Func(name, f), nil
	}
	names := r.Names()
	if len(names) == 0 {
		return nil, fmt.Errorf("custom transform %q is not registered; no custom transforms are: a Go program that runs the job registers its funcs by name before the run", name)
	}
	return nil, fmt.Errorf("custom transform %q is not registered (registered: %s)", name, strings.Join(names, ", "))
}

// Register adds f to DefaultRegistry under name; see Registry.Register. It
// suits registration from a main package's init function.
func Register(name string, f pipeline.TransformFunc) error {
	return defaultRegistry.Register(name, f)
}

// MustRegister is Register that panics on error, for init functions, where
// a duplicate name is a programming mistake.
func MustRegister(name string, f pipeline.TransformFunc) {
	if err := Register(name, f); err != nil {
		panic(err)
	}
}
