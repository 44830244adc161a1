package clarifai

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// inputDiff compares the input the server holds under an item's ID with
// what the sink would send for the item, and returns what differs, one
// phrase each, for people ("concepts: server has [cat:1], the item [dog:1]").
// No difference means the server's input can be adopted as this item's: an
// earlier run sent it and was killed before recording it.
//
// It compares what the API gives back: the kind (which parts the data has),
// each URL, a raw text the server returns, the concepts (ID and value,
// in any order), the metadata, the geo point (to float32 precision) and,
// when the server lists them, the dataset IDs. The API never returns
// uploaded bytes, so content sent as bytes is compared by kind only here
// (adoptGiven first checks the IntentLog's digest, see intent.go). It is
// pure: it calls nothing and changes neither argument.
func inputDiff(server *pb.Input, it *pipeline.Item) []string {
	return diffTexts(inputDiffs(server, it))
}

// fieldDiff is one difference inputDiffs found: the field group it is in
// (FieldContent for the kind, URLs and text) and the phrase for people.
type fieldDiff struct {
	field pipeline.Field
	text  string
}

// diffTexts returns the phrases of ds; nil when there are none.
func diffTexts(ds []fieldDiff) []string {
	if len(ds) == 0 {
		return nil
	}
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.text
	}
	return out
}

// diffFields returns the groups of ds.
func diffFields(ds []fieldDiff) pipeline.Fields {
	var fs pipeline.Fields
	for _, d := range ds {
		fs = fs.With(d.field)
	}
	return fs
}

// inputDiffs is inputDiff with the field group of each difference, so that
// a caller can tell a change of content (which Clarifai cannot patch) from
// one of labels, metadata, geo or datasets (which it can).
func inputDiffs(server *pb.Input, it *pipeline.Item) []fieldDiff {
	var diffs []fieldDiff
	add := func(f pipeline.Field, text string) { diffs = append(diffs, fieldDiff{f, text}) }
	differ := func(f pipeline.Field, what string, server, item any) {
		add(f, fmt.Sprintf("%s: server has %v, the item %v", what, server, item))
	}
	d := server.GetData()
	if got, want := dataKinds(d), itemKinds(it); got != want {
		differ(pipeline.FieldContent, "kind", got, want)
	}
	url := func(part string, got string) {
		if it.URL != "" && got != it.URL {
			differ(pipeline.FieldContent, part+" url", quoteOrNone(got), quoteOrNone(it.URL))
		}
	}
	switch it.Kind {
	case pipeline.KindImage, pipeline.KindMultimodal:
		url("image", d.GetImage().GetUrl())
	case pipeline.KindVideo:
		url("video", d.GetVideo().GetUrl())
	case pipeline.KindAudio:
		url("audio", d.GetAudio().GetUrl())
	case pipeline.KindText:
		if it.Blob == nil && it.Text == "" {
			url("text", d.GetText().GetUrl())
		}
	}
	if raw := d.GetText().GetRaw(); raw != "" && it.Blob == nil && it.Text != "" && raw != it.Text {
		differ(pipeline.FieldContent, "text", abbreviate(raw), abbreviate(it.Text))
	}
	if got, want := serverConcepts(d.GetConcepts()), itemConcepts(it.Concepts); got != want {
		differ(pipeline.FieldConcepts, "concepts", got, want)
	}
	if diff := metadataDiff(d.GetMetadata(), it.Metadata); diff != "" {
		add(pipeline.FieldMetadata, diff)
	}
	if diff := geoDiff(d.GetGeo().GetGeoPoint(), it.Geo); diff != "" {
		add(pipeline.FieldGeo, diff)
	}
	if ds := server.GetDatasetIds(); len(ds) > 0 && !sameSet(ds, it.DatasetIDs) {
		differ(pipeline.FieldDatasets, "dataset IDs", ds, it.DatasetIDs)
	}
	return diffs
}

// dataKinds names the parts a server's data has: "image", "text",
// "image+text", ... or "none".
func dataKinds(d *pb.Data) string {
	var parts []string
	if d.GetImage() != nil {
		parts = append(parts, "image")
	}
	if d.GetVideo() != nil {
		parts = append(parts, "video")
	}
	if d.GetAudio() != nil {
		parts = append(parts, "audio")
	}
	if d.GetText() != nil {
		parts = append(parts, "text")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// itemKinds names the parts the sink sends for an item, as dataKinds does.
func itemKinds(it *pipeline.Item) string {
	if it.Kind == pipeline.KindMultimodal {
		return "image+text"
	}
	return it.Kind.String()
}

func serverConcepts(cs []*pb.Concept) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s:%g", c.GetId(), c.GetValue())
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

func itemConcepts(cs []pipeline.Concept) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s:%g", c.ID, c.Value)
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

// metadataDiff compares metadata as the sink sends it (toStruct): an empty
// object and none are the same.
func metadataDiff(server *structpb.Struct, m map[string]any) string {
	want, err := toStruct(m)
	if err != nil {
		return fmt.Sprintf("metadata: the item's cannot be sent: %v", err)
	}
	if len(server.GetFields()) == 0 && len(want.GetFields()) == 0 {
		return ""
	}
	if proto.Equal(server, want) {
		return ""
	}
	var keys []string
	for k, v := range want.GetFields() {
		if !proto.Equal(server.GetFields()[k], v) {
			keys = append(keys, k)
		}
	}
	for k := range server.GetFields() {
		if _, ok := want.GetFields()[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return "metadata: differs in " + strings.Join(keys, ", ")
}

func geoDiff(server *pb.GeoPoint, g *pipeline.Geo) string {
	switch {
	case server == nil && g == nil:
		return ""
	case server == nil:
		return fmt.Sprintf("geo: server has none, the item %g,%g", g.Latitude, g.Longitude)
	case g == nil:
		return fmt.Sprintf("geo: server has %g,%g, the item none", server.GetLatitude(), server.GetLongitude())
	}
	// Sent as float32: compare at that precision.
	if float32(g.Latitude) != server.GetLatitude() || float32(g.Longitude) != server.GetLongitude() {
		if math.Abs(float64(server.GetLatitude())-g.Latitude) > 1e-4 || math.Abs(float64(server.GetLongitude())-g.Longitude) > 1e-4 {
			return fmt.Sprintf("geo: server has %g,%g, the item %g,%g", server.GetLatitude(), server.GetLongitude(), g.Latitude, g.Longitude)
		}
	}
	return ""
}

func sameSet(a, b []string) bool {
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, "\x00") == strings.Join(y, "\x00")
}

func quoteOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return fmt.Sprintf("%q", s)
}

func abbreviate(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// inputLister reads inputs by ID, with the contract of the Client method
// of the same name.
type inputLister interface {
	ListInputs(ctx context.Context, req *pb.ListInputsRequest, opts ...client.CallOption) (*pb.MultiInputResponse, error)
}

// readBack reads the inputs of ids (at most one page: a batch has at most
// 128 inputs) with one ListInputs and returns them by ID. As callFailure
// sorts the call's error, apiErr is a failure of the call to report on the
// items, and stop one that ends the run (what the caller returns); what
// the server does not hold is missing from held. opts go to the call.
func readBack(ctx context.Context, l inputLister, what string, ids []string, opts ...client.CallOption) (held map[string]*pb.Input, apiErr *client.APIError, stop error) {
	resp, err := l.ListInputs(ctx, &pb.ListInputsRequest{Ids: ids, Page: 1, PerPage: uint32(len(ids))}, opts...)
	if apiErr, stop = callFailure(what, err); stop != nil {
		return nil, nil, stop
	}
	held = make(map[string]*pb.Input, len(ids))
	for _, in := range resp.GetInputs() {
		held[in.GetId()] = in
	}
	return held, apiErr, nil
}

// foreignDup is an input whose given ID the server already holds although
// this run did not send it: an earlier run may have, and been killed before
// recording it.
type foreignDup struct {
	e      *entry
	status *st.Status // the duplicate-ID answer
}

// adoptGiven reads back the inputs of dups (one ListInputs of their IDs)
// and adopts each that matches its item (inputDiff): it is returned, marked
// dup, for the caller to accept as its own. Each other one fails, with the
// differences or why it could not be read back. The error is non-nil for a
// fatal failure or when ctx is done.
func (u *uploader) adoptGiven(ctx context.Context, dups []foreignDup) ([]*entry, error) {
	if len(dups) == 0 {
		return nil, nil
	}
	ids := make([]string, len(dups))
	for i, d := range dups {
		ids[i] = d.e.in.Id
	}
	held, apiErr, stop := readBack(ctx, u.lister, "read back existing inputs", ids)
	if stop != nil {
		return nil, stop
	}
	var adopted []*entry
	for _, d := range dups {
		var why string
		in := held[d.e.in.Id]
		switch {
		case apiErr != nil:
			why = fmt.Sprintf("reading it back failed: %v", apiErr)
		case in == nil:
			why = "reading it back found nothing"
		case d.e.hasPrior && d.e.prior != d.e.sum:
			why = "it differs from this item: " + contentChanged
		default:
			diffs := inputDiff(in, d.e.it)
			if len(diffs) == 0 {
				d.e.dup = true
				if d.e.it.Sync != nil {
					d.e.it.Sync.Adopted = true
				}
				adopted = append(adopted, d.e)
				continue
			}
			why = "it differs from this item: " + strings.Join(diffs, "; ")
		}
		err := u.failEntry(ctx, d.e, int32(d.status.GetCode()), pipeline.Errorf(d.e.it.Prov, "",
			"input ID %s already exists on the server and was not sent by this run, and %s (%s)",
			d.e.in.Id, why, client.Describe(d.status)))
		if err != nil {
			return nil, err
		}
	}
	return adopted, nil
}

// IsNew reports whether it is new to the job's checkpoint (not resumed, no
// sync, or ActionAdd without a PriorID): the items whose input ID the sink
// looks up in SinkConfig.Existing.
func IsNew(it *pipeline.Item) bool { return isNew(it) }

// ReadInputs reads the app's inputs of ids (at most 128) with one
// ListInputs, as the sink reads back the inputs it adopts, and returns them
// by ID; an ID the app does not hold is missing from the map. It changes
// nothing on the server.
func ReadInputs(ctx context.Context, c *client.Client, ids []string) (map[string]*pb.Input, error) {
	if c == nil {
		return nil, errors.New("clarifai: ReadInputs needs a client")
	}
	held, apiErr, stop := readBack(ctx, c, "read back existing inputs", ids)
	switch {
	case stop != nil:
		return nil, stop
	case apiErr != nil:
		return nil, apiErr
	}
	return held, nil
}

// Adoption says what the sink does with a new item (IsNew) whose input ID
// the app holds (SinkConfig.Existing), given that input as read back
// (ReadInputs), by inputDiffs. changed == 0: the input is adopted as it is
// (nothing is sent but the item's region annotations, again). changed has
// FieldContent: its content differs, a conflict (the item fails wrapping
// pipeline.ErrContentChanged). Otherwise changed are the groups the sink
// updates in place (FieldRegions added when the item has regions). diffs
// says what differs, one phrase each, for people. It is pure.
func Adoption(server *pb.Input, it *pipeline.Item) (changed pipeline.Fields, diffs []string) {
	ds := inputDiffs(server, it)
	if len(ds) == 0 {
		return 0, nil
	}
	changed = diffFields(ds)
	if !changed.Has(pipeline.FieldContent) && len(it.Regions) > 0 {
		changed = changed.With(pipeline.FieldRegions)
	}
	return changed, diffTexts(ds)
}

// AdoptAsUpdate makes it, a new item whose input the app holds as server
// with the groups changed differing (Adoption, neither 0 nor with
// FieldContent), an update of those groups, as the sink does before it
// hands the item to its update stage: Sync.Action ActionUpdate, PriorID the
// input's ID, PriorDatasets the datasets the server lists it in, Adopted
// set. What the checkpoint's Lookup put in it.Sync (its digests) is kept.
func AdoptAsUpdate(it *pipeline.Item, server *pb.Input, changed pipeline.Fields) {
	sy := it.Sync
	if sy == nil {
		sy = &pipeline.Sync{}
		it.Sync = sy
	}
	sy.Action, sy.PriorID, sy.Changed = pipeline.ActionUpdate, server.GetId(), changed
	sy.PriorDatasets, sy.Adopted = server.GetDatasetIds(), true
}

// existing takes out of pending the new items (isNew) whose input ID the
// app already holds (SinkConfig.Existing), reads those inputs back (one
// ListInputs) and decides for each, by Adoption: equal, it is handed on
// as a resumed item (annotations posted again, processing verified); only
// labels, metadata, geo or datasets differ, it becomes an ActionUpdate of
// them (and of its regions, if it has any) and goes to the update stage;
// its content differs, it fails at stage "sync" wrapping
// pipeline.ErrContentChanged. An input the read-back does not find (deleted
// since it was listed) is posted. It returns the entries to post; the error
// is non-nil for a fatal failure or when ctx is done.
func (u *uploader) existing(ctx context.Context, pending []*entry) ([]*entry, error) {
	var found []*entry
	post := make([]*entry, 0, len(pending))
	for _, e := range pending {
		if e.t == nil && isNew(e.it) && u.cfg.Existing(e.in.Id) {
			found = append(found, e)
		} else {
			post = append(post, e)
		}
	}
	if len(found) == 0 {
		return pending, nil
	}
	ids := distinctIDs(found, func(e *entry) string { return e.in.Id })
	held, apiErr, stop := readBack(ctx, u.lister, "read back existing inputs", ids)
	if stop != nil {
		return nil, stop
	}
	var equal []acceptance
	for _, e := range found {
		var err error
		in := held[e.in.Id]
		switch {
		case apiErr != nil:
			err = u.failEntry(ctx, e, int32(apiErr.Code), pipeline.Errorf(e.it.Prov, "",
				"input %s is already on the server and reading it back failed: %v", e.in.Id, apiErr))
		case in == nil:
			post = append(post, e)
		default:
			fs, texts := Adoption(in, e.it)
			switch {
			case fs == 0:
				if e.it.Sync != nil {
					e.it.Sync.Adopted = true
				}
				t := &track{it: e.it, stage: stage}
				if u.cfg.verifying() {
					t.pack(e.metadata)
				}
				equal = append(equal, acceptance{t: t, resumed: true, verify: u.cfg.verifying()})
			case fs.Has(pipeline.FieldContent):
				err = u.rep.failItem(ctx, e.it, syncStage, 0, 0, 0, pipeline.Errorf(e.it.Prov, "",
					"input %s is already on the server with other content (%s): %w", e.in.Id, strings.Join(texts, "; "),
					pipeline.ErrContentChanged))
			default:
				AdoptAsUpdate(e.it, in, fs)
				err = pipeline.Send(ctx, u.update, e.it)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if len(equal) > 0 {
		if err := u.handOn(ctx, nil, equal); err != nil {
			return nil, err
		}
	}
	return post, nil
}
