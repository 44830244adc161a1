package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/emulator"
)

// TestValidateFindsEveryKnownProblemAndSendsNothing builds a dataset with
// one of each problem and checks validate reports each with its item.
func TestValidateFindsEveryKnownProblemAndSendsNothing(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	data := t.TempDir()
	copyFile(t, filepath.Join(media, "img.png"), filepath.Join(data, "good.png"))
	copyFile(t, filepath.Join(media, "clip.mp4"), filepath.Join(data, "good.mp4"))
	writeFile(t, filepath.Join(data, "good.txt"), "fine\n")
	// Over the 20 MB image limit (a sparse file: nothing is written).
	copyFile(t, filepath.Join(media, "img.jpg"), filepath.Join(data, "huge.jpg"))
	if err := os.Truncate(filepath.Join(data, "huge.jpg"), 25_000_000); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(data, "latin1.txt"), "caf\xe9\n")
	copyFile(t, filepath.Join(media, "img.gif"), filepath.Join(data, "badid.gif"))
	writeFile(t, filepath.Join(data, "badid.gif.json"), `{"id": "has spaces"}`)
	copyFile(t, filepath.Join(media, "img.bmp"), filepath.Join(data, "badbox.bmp"))
	writeFile(t, filepath.Join(data, "badbox.bmp.json"), `{"regions": [{"label": "cat", "box": [40, 2, 50, 9], "pixels": true}]}`)
	writeFile(t, filepath.Join(data, "archive.zip"), "PK\x03\x04not really")
	manifest := filepath.Join(t.TempDir(), "m.csv")
	writeFile(t, manifest, "id,kind,url,lat,lon\n,image,https://x/a.jpg,91,0\n,image,https://x/b.jpg,10,20\n")

	res := run(t, f, nil, "validate", "--dir", data, "--csv", manifest, "--target", "clarifai")
	if res.code != cli.ExitItemsFailed {
		t.Fatalf("exit %d, want %d:\n%s", res.code, cli.ExitItemsFailed, res)
	}
	for _, want := range []string{
		"huge.jpg: image is 25000000 bytes",
		"latin1.txt", "UTF-8",
		"badid.gif", "has spaces",
		"badbox.bmp", "region 0",
		"m.csv row 2", "lat",
		"skipped  " + filepath.Join(data, "archive.zip"),
		"Checked 10 items", "4 would be sent", "1 skipped", "5 problems",
		"PostInputs",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, res.stdout)
		}
	}
	if calls := f.srv.Calls(); len(calls) != 0 {
		t.Errorf("validate called the API: %v", calls)
	}
	// No PAT needed, and run --dry-run is the same thing.
	res = run(t, nil, nil, "run", "--dry-run", "--dir", data)
	if res.code != cli.ExitItemsFailed || !strings.Contains(res.stdout, "Checked 8 items") || !strings.Contains(res.stdout, "4 problems") {
		t.Errorf("run --dry-run without a PAT:\n%s", res)
	}
}
