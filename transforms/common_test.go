package transforms_test

import (
	"math"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine running: the transforms
// start none of their own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func nan() float64 { return math.NaN() }
