//go:build !unix

package checkpoint

import "os"

const (
	crashEnv     = "CHECKPOINT_TEST_CRASH_DIR"
	crashModeEnv = "CHECKPOINT_TEST_CRASH_MODE"
)

// crashChild is not used without SIGKILL.
func crashChild(string, string) { os.Exit(2) }
