package cli_test

// Keeping an app in sync, field by field, for each kind of change and
// each source: a folder with sidecars and a YOLO labels folder, a CSV
// manifest, a URL list, and a sharded run. The harness is in
// sync_harness_test.go.

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ingestkit/clarifai-ingest/cmd/ingest/cli"
	"github.com/ingestkit/clarifai-ingest/pipeline"
)

// sidecar writes a sidecar (or any JSON file) from a map.
func (e *syncEnv) sidecar(rel string, m map[string]any) {
	e.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	e.write(rel, string(b))
}

// aSidecar is the sidecar of photos/a.png in the first run.
func aSidecar() map[string]any {
	return map[string]any{
		"concepts":    []any{"cat", "sofa"},
		"metadata":    map[string]any{"k": "v", "n": 1},
		"geo":         map[string]any{"lat": 48.5, "lon": 2.25},
		"dataset_ids": []any{"train"},
		"regions":     []any{map[string]any{"label": "cat", "box": []any{0.1, 0.2, 0.5, 0.9}}},
	}
}

// editA writes a's sidecar as the first run's, changed by f.
func (e *syncEnv) editA(f func(m map[string]any)) {
	m := aSidecar()
	f(m)
	e.sidecar("photos/a.png.json", m)
}

// dirSource is a folder of images with sidecars (a: every field, b: a
// given ID, c: none) and a folder whose regions come from YOLO label
// files (d).
var dirSource = syncSource{
	setup: func(e *syncEnv) {
		e.png("photos/a.png", 10)
		e.sidecar("photos/a.png.json", aSidecar())
		e.png("photos/b.png", 20)
		e.sidecar("photos/b.png.json", map[string]any{"id": "b-given", "concepts": []any{"dog"}, "metadata": map[string]any{"k": "w"}})
		e.png("photos/c.png", 30)
		e.png("boxes/d.png", 40)
		e.write("labels/classes.txt", "cat\ndog\n")
		e.write("labels/d.txt", "1 0.5 0.5 0.4 0.4\n")
		e.write("job.yaml", "name: sync-dir\nsources:\n  - dir: {path: photos}\n  - dir: {path: boxes, annotations: {format: yolo, path: labels}}\n")
	},
	first: func(e *syncEnv) wantApp {
		e.ids["a"] = idOfFile(e.t, pipeline.KindImage, e.path("photos/a.png"), "train")
		e.ids["b"] = "b-given"
		e.ids["c"] = idOfFile(e.t, pipeline.KindImage, e.path("photos/c.png"))
		e.ids["d"] = idOfFile(e.t, pipeline.KindImage, e.path("boxes/d.png"))
		return wantApp{
			e.ids["a"]: {concepts: map[string]float32{"cat": 1, "sofa": 1}, meta: `{"k":"v","n":1}`, geo: &[2]float32{48.5, 2.25},
				datasets: []string{"train"}, regions: []string{box("cat", 0.2, 0.1, 0.9, 0.5)}, sha: fileSHA(e.t, e.path("photos/a.png"))},
			"b-given":  {concepts: map[string]float32{"dog": 1}, meta: `{"k":"w"}`, sha: fileSHA(e.t, e.path("photos/b.png"))},
			e.ids["c"]: {sha: fileSHA(e.t, e.path("photos/c.png"))},
			e.ids["d"]: {regions: []string{box("dog", 0.3, 0.3, 0.7, 0.7)}, sha: fileSHA(e.t, e.path("boxes/d.png"))},
		}
	},
	human: []string{"a", "d"},
}

// update is the step of an edit of one item in place: the plan says one
// update of the fields, the run updates it.
func update(unchanged int64, fields map[string]int64, example string, app func(e *syncEnv, w wantApp)) []syncStep {
	return []syncStep{{
		plan: planWant{update: 1, fields: fields, unchanged: unchanged, delete: -1, example: example},
		run:  runWant{updated: 1},
		app:  app,
	}}
}

func one(field string) map[string]int64 { return map[string]int64{field: 1} }

// conflictThenReplace are the steps of a content change under a given ID
// (one item of 4; 3 unchanged): a run fails it as a conflict (exit 4, its
// output saying each of say) and changes nothing; then a run with
// --replace-content (and flags; deletes is its plan's count of deletions,
// -1 without --delete) deletes the input and posts the item again, after
// which the app holds what after says.
func conflictThenReplace(say []string, flags []string, deletes int64, after func(e *syncEnv, w wantApp)) []syncStep {
	return []syncStep{{
		plan: planWant{conflicts: 1, unchanged: 3, delete: -1},
		exit: cli.ExitConflicts,
		run:  runWant{conflicts: 1, failed: 1},
		say:  say,
		app:  func(*syncEnv, wantApp) {},
	}, {
		flags: append([]string{"--replace-content"}, flags...),
		plan:  planWant{replace: 1, unchanged: 3, delete: deletes},
		run:   runWant{uploaded: 1, replaced: 1},
		app:   after,
	}}
}

func TestSyncFolderWithSidecars(t *testing.T) {
	a := func(e *syncEnv, w wantApp) *wantInput { return w[e.ids["a"]] }
	runSyncCases(t, dirSource, []syncCase{
		{name: "concept relabel", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { m["concepts"] = []any{"lion", "sofa"} }) },
			steps: update(3, one("concepts"), "concepts: [cat, sofa] -> [lion, sofa]", func(e *syncEnv, w wantApp) {
				a(e, w).concepts = map[string]float32{"lion": 1, "sofa": 1}
			})},
		{name: "concept added", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { m["concepts"] = []any{"cat", "sofa", "toy"} }) },
			steps: update(3, one("concepts"), "", func(e *syncEnv, w wantApp) {
				a(e, w).concepts = map[string]float32{"cat": 1, "sofa": 1, "toy": 1}
			})},
		{name: "concept removed", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { m["concepts"] = []any{"cat"} }) },
			steps: update(3, one("concepts"), "", func(e *syncEnv, w wantApp) { a(e, w).concepts = map[string]float32{"cat": 1} })},
		{name: "concept made negative", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { m["concepts"] = []any{"cat", "-sofa"} }) },
			steps: update(3, one("concepts"), "", func(e *syncEnv, w wantApp) { a(e, w).concepts = map[string]float32{"cat": 1, "sofa": 0} })},
		{name: "all concepts removed", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { delete(m, "concepts") }) },
			steps: update(3, one("concepts"), "", func(e *syncEnv, w wantApp) { a(e, w).concepts = nil })},
		{name: "metadata value changed", edit: func(e *syncEnv) {
			e.editA(func(m map[string]any) { m["metadata"] = map[string]any{"k": "v2", "n": 1} })
		},
			steps: update(3, one("metadata"), "", func(e *syncEnv, w wantApp) { a(e, w).meta = `{"k":"v2","n":1}` })},
		{name: "metadata key added", edit: func(e *syncEnv) {
			e.editA(func(m map[string]any) { m["metadata"] = map[string]any{"k": "v", "n": 1, "x": true} })
		}, steps: update(3, one("metadata"), "", func(e *syncEnv, w wantApp) { a(e, w).meta = `{"k":"v","n":1,"x":true}` })},
		{name: "metadata emptied", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { delete(m, "metadata") }) },
			steps: update(3, one("metadata"), "", func(e *syncEnv, w wantApp) { a(e, w).meta = "{}" })},
		{name: "geo moved", edit: func(e *syncEnv) {
			e.editA(func(m map[string]any) { m["geo"] = map[string]any{"lat": -33.5, "lon": 151.25} })
		},
			steps: update(3, one("geo"), "", func(e *syncEnv, w wantApp) { a(e, w).geo = &[2]float32{-33.5, 151.25} })},
		{name: "geo removed", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { delete(m, "geo") }) },
			steps: update(3, one("geo"), "", func(e *syncEnv, w wantApp) { a(e, w).geo = nil })},
		{name: "geo set", edit: func(e *syncEnv) {
			e.sidecar("photos/c.png.json", map[string]any{"geo": map[string]any{"lat": 10.5, "lon": -20.25}})
		},
			steps: update(3, one("geo"), "", func(e *syncEnv, w wantApp) { w[e.ids["c"]].geo = &[2]float32{10.5, -20.25} })},
		{name: "dataset moved train to test", edit: func(e *syncEnv) { e.editA(func(m map[string]any) { m["dataset_ids"] = []any{"test"} }) },
			steps: update(3, one("datasets"), "", func(e *syncEnv, w wantApp) { a(e, w).datasets = []string{"test"} })},
		{name: "regions redrawn in a sidecar", edit: func(e *syncEnv) {
			e.editA(func(m map[string]any) {
				m["regions"] = []any{map[string]any{"label": "cat", "box": []any{0.3, 0.3, 0.6, 0.6}}, map[string]any{"label": "sofa", "box": []any{0, 0.5, 1, 1}}}
			})
		}, steps: update(3, one("regions"), "", func(e *syncEnv, w wantApp) {
			a(e, w).regions = []string{box("cat", 0.3, 0.3, 0.6, 0.6), box("sofa", 0.5, 0, 1, 1)}
		})},
		{name: "regions redrawn in a YOLO file", edit: func(e *syncEnv) { e.write("labels/d.txt", "0 0.25 0.25 0.2 0.2\n") },
			steps: update(3, one("regions"), "", func(e *syncEnv, w wantApp) {
				w[e.ids["d"]].regions = []string{box("cat", 0.15, 0.15, 0.35, 0.35)}
			})},
		{name: "content rewritten, derived ID, with --delete", edit: func(e *syncEnv) { e.png("photos/a.png", 11) },
			steps: []syncStep{{flags: []string{"--delete"},
				plan: planWant{add: 1, unchanged: 3, delete: 1},
				run:  runWant{uploaded: 1, deleted: 1},
				app: func(e *syncEnv, w wantApp) {
					in := w.move(e.ids["a"], idOfFile(e.t, pipeline.KindImage, e.path("photos/a.png"), "train"))
					in.sha, in.human = fileSHA(e.t, e.path("photos/a.png")), false
				},
			}}},
		{name: "content rewritten, derived ID, without --delete", edit: func(e *syncEnv) { e.png("photos/c.png", 31) },
			steps: []syncStep{{
				plan: planWant{add: 1, unchanged: 3, delete: -1},
				run:  runWant{uploaded: 1},
				app: func(e *syncEnv, w wantApp) {
					w[idOfFile(e.t, pipeline.KindImage, e.path("photos/c.png"))] = &wantInput{sha: fileSHA(e.t, e.path("photos/c.png"))}
				},
			}}},
		{name: "content rewritten under a given ID", edit: func(e *syncEnv) { e.png("photos/b.png", 21) },
			steps: conflictThenReplace([]string{"b.png", `"b-given"`, "--replace-content"}, nil, -1,
				func(e *syncEnv, w wantApp) { w["b-given"].sha = fileSHA(e.t, e.path("photos/b.png")) })},
		{name: "image of another size under a given ID", edit: func(e *syncEnv) { e.pngSized("photos/b.png", 20, 16, 12) },
			steps: conflictThenReplace(nil, []string{"--delete"}, 0,
				func(e *syncEnv, w wantApp) { w["b-given"].sha = fileSHA(e.t, e.path("photos/b.png")) })},
		{name: "items removed", edit: func(e *syncEnv) { e.remove("photos/c.png"); e.remove("boxes/d.png"); e.remove("labels/d.txt") },
			steps: []syncStep{{
				plan: planWant{unchanged: 2, delete: -1},
				app:  func(*syncEnv, wantApp) {},
			}, {
				flags: []string{"--delete", "--max-delete", "1"},
				plan:  planWant{unchanged: 2, delete: 2, overCap: true},
				exit:  cli.ExitDeleteCapped,
				say:   []string{"2 inputs", "--max-delete 2", "nothing was deleted"},
				app:   func(*syncEnv, wantApp) {},
			}, {
				flags: []string{"--delete"},
				plan:  planWant{unchanged: 2, delete: 2},
				run:   runWant{deleted: 2},
				app:   func(e *syncEnv, w wantApp) { delete(w, e.ids["c"]); delete(w, e.ids["d"]) },
			}}},
		{name: "item removed, its sidecar left", edit: func(e *syncEnv) { e.remove("photos/a.png") },
			steps: []syncStep{{flags: []string{"--delete"},
				plan: planWant{unchanged: 3, delete: 1},
				run:  runWant{deleted: 1},
				app:  func(e *syncEnv, w wantApp) { delete(w, e.ids["a"]) },
			}}},
		{name: "files touched, same bytes", edit: func(e *syncEnv) {
			for _, f := range []string{"photos/a.png", "photos/c.png", "boxes/d.png", "photos/a.png.json", "labels/d.txt"} {
				e.touch(f)
			}
		}, steps: []syncStep{{flags: []string{"--delete"},
			plan:     planWant{unchanged: 4, delete: 0},
			readOnly: true,
			app:      func(*syncEnv, wantApp) {},
		}}},
		{name: "file touched under a given ID, same bytes", edit: func(e *syncEnv) { e.touch("photos/b.png") },
			steps: []syncStep{{flags: []string{"--delete"},
				plan:     planWant{unchanged: 4, delete: 0},
				readOnly: true,
				app:      func(*syncEnv, wantApp) {},
			}}},
	})
}

// The manifest's columns, in order.
const (
	colID = iota
	colURL
	colPath
	colConcepts
	colMetadata
	colLat
	colLon
	colDatasets
	colAnnotations
)

// manifestRows are the rows of m.csv in the first run: given IDs with
// URLs (cat-1: every field; dog-1: a label), a file with a derived ID and
// a file under a given ID.
func manifestRows() [][]string {
	return [][]string{
		{"id", "url", "path", "concepts", "metadata", "lat", "lon", "dataset_ids", "annotations"},
		{"cat-1", "https://example.com/cat.jpg", "", "cat;sofa", `{"k": "v", "n": 1}`, "48.5", "2.25", "train", `[{"label": "cat", "box": [0.1, 0.2, 0.5, 0.9]}]`},
		{"dog-1", "https://example.com/dog.jpg", "", "dog", "", "", "", "", ""},
		{"", "", "files/p.png", "bird", "", "", "", "", ""},
		{"pic-1", "", "files/q.png", "fish", "", "", "", "", ""},
	}
}

// manifest writes m.csv as the first run's, changed by f.
func (e *syncEnv) manifest(f func(rows [][]string) [][]string) {
	writeCSV(e.t, e.path("m.csv"), f(manifestRows()))
}

// row sets one cell of the row of an ID (or of the file p.png: "p").
func cell(id string, col int, v string) func([][]string) [][]string {
	return func(rows [][]string) [][]string {
		for _, r := range rows {
			if r[colID] == id || id == "p" && r[colPath] == "files/p.png" {
				r[col] = v
			}
		}
		return rows
	}
}

// without drops the rows of IDs (or "p").
func without(ids ...string) func([][]string) [][]string {
	return func(rows [][]string) [][]string {
		var out [][]string
		for _, r := range rows {
			drop := false
			for _, id := range ids {
				drop = drop || r[colID] == id || id == "p" && r[colPath] == "files/p.png"
			}
			if !drop {
				out = append(out, r)
			}
		}
		return out
	}
}

var csvSource = syncSource{
	setup: func(e *syncEnv) {
		e.png("files/p.png", 50)
		e.png("files/q.png", 60)
		e.manifest(func(r [][]string) [][]string { return r })
		e.write("job.yaml", "name: sync-csv\nsources:\n  - csv: {path: m.csv}\n")
	},
	first: func(e *syncEnv) wantApp {
		e.ids["cat"], e.ids["dog"], e.ids["pic"] = "cat-1", "dog-1", "pic-1"
		e.ids["p"] = idOfFile(e.t, pipeline.KindImage, e.path("files/p.png"))
		return wantApp{
			"cat-1": {concepts: map[string]float32{"cat": 1, "sofa": 1}, meta: `{"k":"v","n":1}`, geo: &[2]float32{48.5, 2.25},
				datasets: []string{"train"}, regions: []string{box("cat", 0.2, 0.1, 0.9, 0.5)}, url: "https://example.com/cat.jpg"},
			"dog-1":    {concepts: map[string]float32{"dog": 1}, url: "https://example.com/dog.jpg"},
			e.ids["p"]: {concepts: map[string]float32{"bird": 1}, sha: fileSHA(e.t, e.path("files/p.png"))},
			"pic-1":    {concepts: map[string]float32{"fish": 1}, sha: fileSHA(e.t, e.path("files/q.png"))},
		}
	},
	human: []string{"cat"},
}

func TestSyncCSVManifest(t *testing.T) {
	cat := func(w wantApp) *wantInput { return w["cat-1"] }
	edit := func(id string, col int, v string) func(e *syncEnv) {
		return func(e *syncEnv) { e.manifest(cell(id, col, v)) }
	}
	runSyncCases(t, csvSource, []syncCase{
		{name: "concept relabel", edit: edit("cat-1", colConcepts, "lion;sofa"),
			steps: update(3, one("concepts"), "concepts: [cat, sofa] -> [lion, sofa]", func(e *syncEnv, w wantApp) {
				cat(w).concepts = map[string]float32{"lion": 1, "sofa": 1}
			})},
		{name: "concept added", edit: edit("cat-1", colConcepts, "cat;sofa;toy"),
			steps: update(3, one("concepts"), "", func(e *syncEnv, w wantApp) { cat(w).concepts = map[string]float32{"cat": 1, "sofa": 1, "toy": 1} })},
		{name: "concept removed", edit: edit("cat-1", colConcepts, "sofa"),
			steps: update(3, one("concepts"), "", func(e *syncEnv, w wantApp) { cat(w).concepts = map[string]float32{"sofa": 1} })},
		{name: "all concepts removed", edit: edit("cat-1", colConcepts, ""),
			steps: update(3, one("concepts"), "", func(e *syncEnv, w wantApp) { cat(w).concepts = nil })},
		{name: "metadata value changed", edit: edit("cat-1", colMetadata, `{"k": "v2", "n": 1}`),
			steps: update(3, one("metadata"), "", func(e *syncEnv, w wantApp) { cat(w).meta = `{"k":"v2","n":1}` })},
		{name: "metadata key added", edit: edit("dog-1", colMetadata, `{"owner": "ann"}`),
			steps: update(3, one("metadata"), "", func(e *syncEnv, w wantApp) { w["dog-1"].meta = `{"owner":"ann"}` })},
		{name: "metadata emptied", edit: edit("cat-1", colMetadata, ""),
			steps: update(3, one("metadata"), "", func(e *syncEnv, w wantApp) { cat(w).meta = "{}" })},
		{name: "geo set", edit: func(e *syncEnv) {
			e.manifest(func(r [][]string) [][]string {
				return cell("dog-1", colLon, "-20.25")(cell("dog-1", colLat, "10.5")(r))
			})
		}, steps: update(3, one("geo"), "", func(e *syncEnv, w wantApp) { w["dog-1"].geo = &[2]float32{10.5, -20.25} })},
		{name: "geo moved", edit: edit("cat-1", colLat, "-33.5"),
			steps: update(3, one("geo"), "", func(e *syncEnv, w wantApp) { cat(w).geo = &[2]float32{-33.5, 2.25} })},
		{name: "geo removed", edit: func(e *syncEnv) {
			e.manifest(func(r [][]string) [][]string { return cell("cat-1", colLon, "")(cell("cat-1", colLat, "")(r)) })
		}, steps: update(3, one("geo"), "", func(e *syncEnv, w wantApp) { cat(w).geo = nil })},
		{name: "dataset moved train to test", edit: edit("cat-1", colDatasets, "test"),
			steps: update(3, one("datasets"), "datasets: [train] -> [test]", func(e *syncEnv, w wantApp) { cat(w).datasets = []string{"test"} })},
		{name: "dataset added", edit: edit("dog-1", colDatasets, "train;test"),
			steps: update(3, one("datasets"), "", func(e *syncEnv, w wantApp) { w["dog-1"].datasets = []string{"test", "train"} })},
		{name: "regions redrawn", edit: edit("cat-1", colAnnotations, `[{"label": "sofa", "box": [0, 0.5, 1, 1]}, {"label": "cat", "box": [0.3, 0.3, 0.6, 0.6]}]`),
			steps: update(3, one("regions"), "", func(e *syncEnv, w wantApp) {
				cat(w).regions = []string{box("cat", 0.3, 0.3, 0.6, 0.6), box("sofa", 0.5, 0, 1, 1)}
			})},
		{name: "content rewritten, derived ID, with --delete", edit: func(e *syncEnv) { e.png("files/p.png", 51) },
			steps: []syncStep{{flags: []string{"--delete"},
				plan: planWant{add: 1, unchanged: 3, delete: 1},
				run:  runWant{uploaded: 1, deleted: 1},
				app: func(e *syncEnv, w wantApp) {
					w.move(e.ids["p"], idOfFile(e.t, pipeline.KindImage, e.path("files/p.png"))).sha = fileSHA(e.t, e.path("files/p.png"))
				},
			}}},
		{name: "content rewritten, derived ID, without --delete", edit: func(e *syncEnv) { e.png("files/p.png", 51) },
			steps: []syncStep{{
				plan: planWant{add: 1, unchanged: 3, delete: -1},
				run:  runWant{uploaded: 1},
				app: func(e *syncEnv, w wantApp) {
					w[idOfFile(e.t, pipeline.KindImage, e.path("files/p.png"))] = &wantInput{concepts: map[string]float32{"bird": 1}, sha: fileSHA(e.t, e.path("files/p.png"))}
				},
			}}},
		{name: "URL changed under a given ID", edit: edit("cat-1", colURL, "https://example.com/cat2.jpg"),
			steps: conflictThenReplace([]string{"m.csv row 2", `"cat-1"`, "--replace-content"}, nil, -1,
				func(e *syncEnv, w wantApp) {
					cat(w).url, cat(w).human = "https://example.com/cat2.jpg", false // the input was deleted, with what was drawn on it
				})},
		{name: "file rewritten under a given ID", edit: func(e *syncEnv) { e.png("files/q.png", 61) },
			steps: conflictThenReplace([]string{"m.csv row 5", `"pic-1"`}, nil, -1,
				func(e *syncEnv, w wantApp) { w["pic-1"].sha = fileSHA(e.t, e.path("files/q.png")) })},
		{name: "rows removed", edit: func(e *syncEnv) { e.manifest(without("dog-1", "p")) },
			steps: []syncStep{{
				plan: planWant{unchanged: 2, delete: -1},
				app:  func(*syncEnv, wantApp) {},
			}, {
				flags: []string{"--delete", "--max-delete", "1"},
				plan:  planWant{unchanged: 2, delete: 2, overCap: true},
				exit:  cli.ExitDeleteCapped,
				say:   []string{"2 inputs", "--max-delete 2", "nothing was deleted"},
				app:   func(*syncEnv, wantApp) {},
			}, {
				flags: []string{"--delete", "--max-delete", "50%"},
				plan:  planWant{unchanged: 2, delete: 2},
				run:   runWant{deleted: 2},
				app:   func(e *syncEnv, w wantApp) { delete(w, "dog-1"); delete(w, e.ids["p"]) },
			}}},
		{name: "manifest and file touched, same bytes", edit: func(e *syncEnv) { e.touch("m.csv"); e.touch("files/p.png") },
			steps: []syncStep{{flags: []string{"--delete"},
				plan:     planWant{unchanged: 4, delete: 0},
				readOnly: true,
				app:      func(*syncEnv, wantApp) {},
			}}},
		{name: "file touched under a given ID, same bytes", edit: func(e *syncEnv) { e.touch("files/q.png") },
			steps: []syncStep{{flags: []string{"--delete"},
				plan:     planWant{unchanged: 4, delete: 0},
				readOnly: true,
				app:      func(*syncEnv, wantApp) {},
			}}},
	})
}

// urlLines are the lines of urls.txt in the first run: a URL with two
// labels, one with one, one without.
var urlLines = map[string]string{
	"a": "https://example.com/a.jpg\tcat\tsofa",
	"b": "https://example.com/b.jpg\tdog",
	"c": "https://example.com/c.jpg",
}

// urls writes urls.txt: the first run's lines, with the lines of edits
// replaced ("" drops one).
func (e *syncEnv) urls(edits map[string]string) {
	var b []byte
	for _, k := range []string{"a", "b", "c"} {
		l, ok := edits[k]
		if !ok {
			l = urlLines[k]
		}
		if l != "" {
			b = append(b, l+"\n"...)
		}
	}
	e.write("urls.txt", string(b))
}

const urlJob = "name: sync-urls\nsources:\n  - urls: {path: urls.txt, dataset_ids: [%s]}\n"

var urlSource = syncSource{
	setup: func(e *syncEnv) {
		e.urls(nil)
		e.write("job.yaml", fmt.Sprintf(urlJob, "train"))
	},
	first: func(e *syncEnv) wantApp {
		w := wantApp{}
		for k, c := range map[string]map[string]float32{"a": {"cat": 1, "sofa": 1}, "b": {"dog": 1}, "c": nil} {
			url := "https://example.com/" + k + ".jpg"
			e.ids[k] = idOfURL(pipeline.KindImage, url, "train")
			w[e.ids[k]] = &wantInput{concepts: c, datasets: []string{"train"}, url: url}
		}
		return w
	},
	human: []string{"a"},
}

func TestSyncURLList(t *testing.T) {
	line := func(k, l string) func(e *syncEnv) { return func(e *syncEnv) { e.urls(map[string]string{k: l}) } }
	a := func(e *syncEnv, w wantApp) *wantInput { return w[e.ids["a"]] }
	runSyncCases(t, urlSource, []syncCase{
		{name: "concept relabel", edit: line("a", "https://example.com/a.jpg\tlion\tsofa"),
			steps: update(2, one("concepts"), "concepts: [cat, sofa] -> [lion, sofa]", func(e *syncEnv, w wantApp) {
				a(e, w).concepts = map[string]float32{"lion": 1, "sofa": 1}
			})},
		{name: "concept added", edit: line("c", "https://example.com/c.jpg\tbird"),
			steps: update(2, one("concepts"), "", func(e *syncEnv, w wantApp) { w[e.ids["c"]].concepts = map[string]float32{"bird": 1} })},
		{name: "concept removed", edit: line("a", "https://example.com/a.jpg\tcat"),
			steps: update(2, one("concepts"), "", func(e *syncEnv, w wantApp) { a(e, w).concepts = map[string]float32{"cat": 1} })},
		{name: "concept made negative", edit: line("a", "https://example.com/a.jpg\tcat,sofa:0"),
			steps: update(2, one("concepts"), "", func(e *syncEnv, w wantApp) { a(e, w).concepts = map[string]float32{"cat": 1, "sofa": 0} })},
		{name: "all concepts removed", edit: line("a", "https://example.com/a.jpg"),
			steps: update(2, one("concepts"), "", func(e *syncEnv, w wantApp) { a(e, w).concepts = nil })},
		{name: "dataset moved train to test", edit: func(e *syncEnv) { e.write("job.yaml", fmt.Sprintf(urlJob, "test")) },
			// The datasets of a source are the job's: another job, to
			// be allowed on the same checkpoint.
			steps: []syncStep{{flags: []string{"--allow-config-change"},
				plan: planWant{update: 3, fields: map[string]int64{"datasets": 3}, delete: -1, example: "datasets: [train] -> [test]"},
				run:  runWant{updated: 3},
				app: func(e *syncEnv, w wantApp) {
					for _, in := range w {
						in.datasets = []string{"test"}
					}
				},
			}}},
		{name: "URL changed, with --delete", edit: line("b", "https://example.com/b2.jpg\tdog"),
			steps: []syncStep{{flags: []string{"--delete"},
				plan: planWant{add: 1, unchanged: 2, delete: 1},
				run:  runWant{uploaded: 1, deleted: 1},
				app: func(e *syncEnv, w wantApp) {
					w.move(e.ids["b"], idOfURL(pipeline.KindImage, "https://example.com/b2.jpg", "train")).url = "https://example.com/b2.jpg"
				},
			}}},
		{name: "URL changed, without --delete", edit: line("b", "https://example.com/b2.jpg\tdog"),
			steps: []syncStep{{
				plan: planWant{add: 1, unchanged: 2, delete: -1},
				run:  runWant{uploaded: 1},
				app: func(e *syncEnv, w wantApp) {
					w[idOfURL(pipeline.KindImage, "https://example.com/b2.jpg", "train")] = &wantInput{
						concepts: map[string]float32{"dog": 1}, datasets: []string{"train"}, url: "https://example.com/b2.jpg"}
				},
			}}},
		{name: "URL removed", edit: line("c", ""),
			steps: []syncStep{{
				plan: planWant{unchanged: 2, delete: -1},
				app:  func(*syncEnv, wantApp) {},
			}, {
				flags: []string{"--delete", "--max-delete", "0"},
				plan:  planWant{unchanged: 2, delete: 1, overCap: true},
				exit:  cli.ExitDeleteCapped,
				say:   []string{"--max-delete 1"},
				app:   func(*syncEnv, wantApp) {},
			}, {
				flags: []string{"--delete"},
				plan:  planWant{unchanged: 2, delete: 1},
				run:   runWant{deleted: 1},
				app:   func(e *syncEnv, w wantApp) { delete(w, e.ids["c"]) },
			}}},
		{name: "list rewritten, same bytes", edit: func(e *syncEnv) { e.touch("urls.txt") },
			steps: []syncStep{{flags: []string{"--delete"},
				plan:     planWant{unchanged: 3, delete: 0},
				readOnly: true,
				app:      func(*syncEnv, wantApp) {},
			}}},
	})
}

// TestSyncSharded: a job run as two shards (--shard 0/2 and 1/2, each with
// its own state directory under the job's), then edited: every row
// relabelled, and one row of each shard removed. Each shard plans and
// updates only its own items and deletes only its own departed input; the
// union on the server is the edited manifest.
func TestSyncSharded(t *testing.T) {
	e := newSyncEnv(t)
	const n = 12
	rows := func(edited bool, drop map[string]bool) [][]string {
		out := [][]string{{"id", "text", "concepts", "metadata", "dataset_ids"}}
		for i := range n {
			id, label, meta := fmt.Sprintf("t-%d", i), fmt.Sprintf("c%d", i), ""
			if i%3 == 2 {
				id = "" // derived from the text
			}
			if edited {
				label, meta = label+"x", fmt.Sprintf(`{"row": %d}`, i)
			}
			if !drop[fmt.Sprint(i)] {
				out = append(out, []string{id, fmt.Sprintf("text %d", i), label, meta, "train"})
			}
		}
		return out
	}
	idOf := func(i int) string {
		if i%3 == 2 {
			return idOfText(fmt.Sprintf("text %d", i), "train")
		}
		return fmt.Sprintf("t-%d", i)
	}
	writeCSV(t, e.path("m.csv"), rows(false, nil))
	e.write("job.yaml", "name: sync-shards\nsources:\n  - csv: {path: m.csv}\n")
	shard := func(i int) string { return fmt.Sprintf("%d/2", i) }

	owner := map[string]int{}
	for s := range 2 {
		r, _ := e.run(cli.ExitOK, "--shard", shard(s))
		for _, si := range e.f.srv.Inputs(testUser, testApp) {
			if _, ok := owner[si.Input.GetId()]; !ok {
				owner[si.Input.GetId()] = s
			}
		}
		if r.Done == 0 || r.Failed != 0 {
			t.Fatalf("shard %d: %+v", s, r)
		}
	}
	w := wantApp{}
	var firstOf [2]int
	firstOf[0], firstOf[1] = -1, -1
	for i := range n {
		id := idOf(i)
		if _, ok := owner[id]; !ok {
			t.Fatalf("row %d (%s) was sent by no shard", i, id)
		}
		if s := owner[id]; firstOf[s] < 0 {
			firstOf[s] = i
		}
		w[id] = &wantInput{concepts: map[string]float32{fmt.Sprintf("c%d", i): 1}, datasets: []string{"train"}}
	}
	if firstOf[0] < 0 || firstOf[1] < 0 {
		t.Fatalf("one shard owns every row: %v", owner)
	}
	e.check(w)

	// Edit every row; remove the first row of each shard.
	drop := map[string]bool{fmt.Sprint(firstOf[0]): true, fmt.Sprint(firstOf[1]): true}
	writeCSV(t, e.path("m.csv"), rows(true, drop))
	for i := range n {
		id := idOf(i)
		if drop[fmt.Sprint(i)] {
			delete(w, id)
			continue
		}
		w[id].concepts = map[string]float32{fmt.Sprintf("c%dx", i): 1}
		w[id].meta = fmt.Sprintf(`{"row":%d}`, i)
	}
	for s := range 2 {
		var own int64
		for id := range w {
			if owner[id] == s {
				own++
			}
		}
		e.checkPlan(e.plan("--shard", shard(s), "--delete"), planWant{update: own,
			fields: map[string]int64{"concepts": own, "metadata": own}, delete: 1})
		r, _ := e.run(cli.ExitOK, "--shard", shard(s), "--delete")
		e.checkRun(r, runWant{updated: own, deleted: 1})
	}
	e.check(w)

	// Nothing left to do for either shard.
	for s := range 2 {
		p := e.plan("--shard", shard(s), "--delete")
		e.checkPlan(p, planWant{unchanged: p.Read, delete: 0})
		before := e.f.srv.Calls()
		r, _ := e.run(cli.ExitOK, "--shard", shard(s), "--delete")
		e.checkRun(r, runWant{})
		e.onlyReads(before)
	}
	e.check(w)
}
