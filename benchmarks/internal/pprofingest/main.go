// Command pprofingest is the ingest command with profiling, for
// `go run ./benchmarks -pprof`: the same cli.Main as cmd/ingest, plus a CPU
// profile of the whole run written to $INGEST_CPUPROFILE and a heap profile
// at exit written to $INGEST_MEMPROFILE (each only when set).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
)

func main() { os.Exit(run()) }

func run() int {
	if path := os.Getenv("INGEST_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pprofingest:", err)
			return cli.ExitFatal
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "pprofingest:", err)
			return cli.ExitFatal
		}
		defer pprof.StopCPUProfile()
	}
	code := cli.Main()
	if path := os.Getenv("INGEST_MEMPROFILE"); path != "" {
		if err := writeHeap(path); err != nil {
			fmt.Fprintln(os.Stderr, "pprofingest:", err)
		}
	}
	return code
}

// writeHeap writes a heap profile (in-use and allocated since start).
func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // up-to-date in-use figures
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
