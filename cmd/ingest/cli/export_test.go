package cli

import (
	"errors"
	"testing"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// GuardDial makes every client the CLI creates until the test ends refuse,
// and fail the test, when its endpoint is not loopback: a test that expects
// a refusal before any dial proves it never dialed.
func GuardDial(t testing.TB) {
	t.Helper()
	old := newClient
	newClient = func(cfg client.Config) (*client.Client, error) {
		ep, err := client.ParseEndpoint(cfg.Base)
		if err == nil && !ep.Loopback() {
			t.Errorf("the CLI made a client for %s, which is not loopback", ep)
			return nil, errors.New("test guard: no client for a host that is not loopback")
		}
		return old(cfg)
	}
	t.Cleanup(func() { newClient = old })
}
