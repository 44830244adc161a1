package manifest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Stream
// runs in a goroutine in every test (pipelinetest.Collect).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
