package clarifai

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/ids"
	"github.com/ingestkit/clarifai-ingest/sinks"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	st "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// entry is one item on its way through PostInputs: the built input and what
// the sink needs to report it.
type entry struct {
	it      *pipeline.Item
	in      *pb.Input
	derived bool  // the ID was derived from the content: a duplicate is our own copy
	bytes   int64 // content bytes carried
	// metadata is the wire form of the item's metadata when a wire
	// builder wrote it (see builder.metadata); verification keeps it.
	metadata []byte
	// attempts is how many requests carried the input so far.
	attempts int
	// lastCode and lastWhy describe the last retryable failure, for the
	// report if the retries run out.
	lastCode int32
	lastWhy  string
	// t is set when verification is sending the input again.
	t *track
	// dup is set when the server answered "duplicate ID" and the copy there
	// is ours; code is the accepting status otherwise.
	dup  bool
	code st.StatusCode
	// sum is the digest of the content bytes when the item has a
	// user-given ID, its content is bytes and the sink keeps an IntentLog
	// (see intent.go). prior is what an earlier run recorded under the ID,
	// when hasPrior.
	sum, prior uint64
	hasPrior   bool
}

// precheck fails an item that can never be sent, before it is batched and
// without loading its content: unknown kind, missing or conflicting content,
// over the size limit, invalid ID, labels, dataset IDs or geo point. The
// error names the item.
func precheck(it *pipeline.Item) error {
	fail := func(field, format string, args ...any) error { return pipeline.Errorf(it.Prov, field, format, args...) }
	media := 0 // how many of URL and Blob are set
	if it.URL != "" {
		media++
	}
	if it.Blob != nil {
		media++
	}
	switch it.Kind {
	case pipeline.KindImage, pipeline.KindVideo, pipeline.KindAudio:
		if media != 1 || it.Text != "" {
			return fail("", "a %s item needs exactly one of a URL or a file, and no text", it.Kind)
		}
	case pipeline.KindText:
		if n := media + b2i(it.Text != ""); n != 1 {
			return fail("", "a text item needs exactly one of raw text, a file or a URL")
		}
	case pipeline.KindMultimodal:
		if media != 1 || it.Text == "" {
			return fail("", "a multimodal item needs an image (a URL or a file) and a text")
		}
	default:
		return fail("", "cannot upload an item of kind %s", it.Kind)
	}
	if err := sinks.CheckLimits(it); err != nil {
		return err
	}
	if it.ID != "" {
		if err := ids.ValidID(it.ID); err != nil {
			return fail("id", "%v", err)
		}
	}
	if !utf8.ValidString(it.URL) {
		return fail("url", "the URL is not valid UTF-8")
	}
	if !utf8.ValidString(it.Text) {
		return fail("text", "the text is not valid UTF-8")
	}
	for _, c := range it.Concepts {
		if c.ID == "" || !utf8.ValidString(c.ID) || !utf8.ValidString(c.Name) {
			return fail("concepts", "concept %q/%q: want a non-empty UTF-8 id and a UTF-8 name", c.ID, c.Name)
		}
	}
	for _, d := range it.DatasetIDs {
		if err := ids.ValidID(d); err != nil {
			return fail("dataset", "dataset %v", err)
		}
	}
	if g := it.Geo; g != nil {
		if !(g.Latitude >= -90 && g.Latitude <= 90) || !(g.Longitude >= -180 && g.Longitude <= 180) {
			return fail("geo", "latitude %v, longitude %v: want latitude in [-90, 90] and longitude in [-180, 180]",
				g.Latitude, g.Longitude)
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// buildEntry loads the item's content (only now, at batch build) and builds
// its input. An item without ID gets ids.DeriveID, assigned to it.ID.
// Regions are not put on the input: they are posted with PostAnnotations
// once the input is accepted. The error names the item; when ctx is done the
// error wraps ctx.Err().
func buildEntry(ctx context.Context, it *pipeline.Item) (*entry, error) {
	return (*builder)(nil).build(ctx, it)
}

// build is buildEntry for bd's batch (see builder).
func (bd *builder) build(ctx context.Context, it *pipeline.Item) (*entry, error) {
	var content []byte
	if it.Blob != nil {
		var err error
		// ReadAll's limit is inclusive; the documented limit is exclusive.
		if content, err = bd.load(ctx, it.Blob, sinks.LimitFor(it.Kind)-1); err != nil {
			return nil, pipeline.Errorf(it.Prov, "", "load content: %w", err)
		}
	}
	e := &entry{it: it, bytes: int64(len(content)) + int64(len(it.Text))}
	data := &pb.Data{}
	switch it.Kind {
	case pipeline.KindImage:
		data.Image = &pb.Image{Url: it.URL, Base64: content}
	case pipeline.KindVideo:
		data.Video = &pb.Video{Url: it.URL, Base64: content}
	case pipeline.KindAudio:
		data.Audio = &pb.Audio{Url: it.URL, Base64: content}
	case pipeline.KindText:
		switch {
		case it.Blob != nil:
			if !utf8.Valid(content) {
				return nil, pipeline.Errorf(it.Prov, "", "the file is not valid UTF-8 text")
			}
			data.Text = &pb.Text{Raw: string(content)}
		case it.Text != "":
			data.Text = &pb.Text{Raw: it.Text}
		default:
			data.Text = &pb.Text{Url: it.URL}
		}
	case pipeline.KindMultimodal:
		// One Data with both parts set, as the SDK's get_multimodal_input.
		data.Image = &pb.Image{Url: it.URL, Base64: content}
		data.Text = &pb.Text{Raw: it.Text}
	default:
		return nil, pipeline.Errorf(it.Prov, "", "cannot upload an item of kind %s", it.Kind)
	}
	data.Concepts = inputConcepts(it.Concepts)
	if it.Metadata != nil {
		var err error
		if e.metadata, err = bd.metadata(data, it.Metadata); err != nil {
			return nil, pipeline.Errorf(it.Prov, "metadata", "%v", err)
		}
	}
	data.Geo = inputGeo(it.Geo)
	if it.ID == "" {
		it.ID, e.derived = PriorScopeID(it, content), true
	}
	e.in = &pb.Input{Id: it.ID, Data: data, DatasetIds: it.DatasetIDs}
	return e, nil
}

// PriorScopeID returns the derived ID of it (ids.DeriveID of its content),
// except for an item whose content digest changed (ActionAdd with a
// PriorID) together with its datasets, whose content derives PriorID in the
// datasets PriorID was put in (Sync.PriorDatasets): then PriorID. Such an
// item is a file touched (or rewritten with the same bytes) and moved to
// other datasets. A move alone keeps the input's ID (it is made in place),
// so the same content moved and touched keeps it too: the uploader then
// finds the ID unchanged and updates the input (see uploader.unmoved), and
// the input, with what people annotated on it, is not deleted and posted
// again. A plan (configs.Job.Plan) derives the ID a run would use with it.
func PriorScopeID(it *pipeline.Item, content []byte) string {
	id := ids.DeriveID(it, content)
	sy := it.Sync
	if sy == nil || sy.Action != pipeline.ActionAdd || sy.PriorID == "" || sy.PriorID == id ||
		!sy.Changed.Has(pipeline.FieldDatasets) {
		return id
	}
	prior := *it
	prior.DatasetIDs = sy.PriorDatasets
	if ids.DeriveID(&prior, content) == sy.PriorID {
		return sy.PriorID
	}
	return id
}

// inputConcepts returns the concepts of an input's data as the sink sends
// them (by PostInputs and PatchInputs): nil for none.
func inputConcepts(cs []pipeline.Concept) []*pb.Concept {
	if len(cs) == 0 {
		return nil
	}
	out := make([]*pb.Concept, len(cs))
	all := make([]pb.Concept, len(cs)) // one allocation for all
	for i, c := range cs {
		// Value is always set: over gRPC a missing value reads as 0, a
		// negative label.
		all[i].Id, all[i].Name, all[i].Value = c.ID, c.Name, c.Value
		out[i] = &all[i]
	}
	return out
}

// inputGeo returns the geo of an input's data as the sink sends it: nil for
// none.
func inputGeo(g *pipeline.Geo) *pb.Geo {
	if g == nil {
		return nil
	}
	return &pb.Geo{GeoPoint: &pb.GeoPoint{Longitude: float32(g.Longitude), Latitude: float32(g.Latitude)}}
}

// toStruct converts a JSON-like object to a protobuf Struct, keeping nested
// objects and arrays, numbers (as doubles), booleans and nulls. It accepts
// what encoding/json decodes to (map[string]any, []any, float64,
// json.Number, string, bool, nil) plus Go integers, float32, and maps and
// slices of other element types; anything else, NaN and infinities, and
// invalid UTF-8 are errors naming the key.
func toStruct(m map[string]any) (*structpb.Struct, error) {
	if s, ok := flatStruct(m); ok {
		return s, nil
	}
	return toStructAt(m, "")
}

// flatStruct is toStruct for the common object, as JSON decoders and the
// manifest source give it: flat, with UTF-8 keys and only string (UTF-8),
// float64 (finite), bool and nil values. It allocates the values in blocks
// and skips the sorting of keys, which only makes the general path's
// errors deterministic. It reports false for anything else, which the
// general path then converts or rejects (FuzzFlatStruct checks that both
// give the same Struct).
func flatStruct(m map[string]any) (*structpb.Struct, bool) {
	var strs, nums, bools, nulls int
	for k, v := range m {
		if !utf8.ValidString(k) {
			return nil, false
		}
		switch v := v.(type) {
		case string:
			if !utf8.ValidString(v) {
				return nil, false
			}
			strs++
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, false
			}
			nums++
		case bool:
			bools++
		case nil:
			nulls++
		default:
			return nil, false
		}
	}
	vals := make([]structpb.Value, len(m))
	strKinds := make([]structpb.Value_StringValue, strs)
	numKinds := make([]structpb.Value_NumberValue, nums)
	var boolKinds []structpb.Value_BoolValue
	if bools > 0 {
		boolKinds = make([]structpb.Value_BoolValue, bools)
	}
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	i := 0
	for k, v := range m {
		pv := &vals[i]
		i++
		switch v := v.(type) {
		case string:
			kind := &strKinds[len(strKinds)-strs]
			kind.StringValue, pv.Kind = v, kind
			strs--
		case float64:
			kind := &numKinds[len(numKinds)-nums]
			kind.NumberValue, pv.Kind = v, kind
			nums--
		case bool:
			kind := &boolKinds[len(boolKinds)-bools]
			kind.BoolValue, pv.Kind = v, kind
			bools--
		case nil:
			pv.Kind = nullKind
		}
		s.Fields[k] = pv
	}
	return s, true
}

// nullKind is the kind of every null Value flatStruct makes: it holds no
// data, so one is shared.
var nullKind = &structpb.Value_NullValue{}

func toValue(v any, path string) (*structpb.Value, error) {
	switch v := v.(type) {
	case nil:
		return structpb.NewNullValue(), nil
	case bool:
		return structpb.NewBoolValue(v), nil
	case string:
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("%s: string is not valid UTF-8", path)
		}
		return structpb.NewStringValue(v), nil
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return number(f, path)
	case float64:
		return number(v, path)
	case float32:
		return number(float64(v), path)
	case int:
		return number(float64(v), path)
	case int64:
		return number(float64(v), path)
	case map[string]any:
		s, err := toStructAt(v, path)
		if err != nil {
			return nil, err
		}
		return structpb.NewStructValue(s), nil
	case []any:
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(v))}
		for i, e := range v {
			pv, err := toValue(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			l.Values[i] = pv
		}
		return structpb.NewListValue(l), nil
	}
	// Other numeric kinds, and maps and slices of other element types.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return number(float64(rv.Int()), path)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return number(float64(rv.Uint()), path)
	case reflect.Float32, reflect.Float64:
		return number(rv.Float(), path)
	case reflect.String:
		return toValue(rv.String(), path)
	case reflect.Bool:
		return structpb.NewBoolValue(rv.Bool()), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return structpb.NewNullValue(), nil
		}
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return toValue(l, path)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return structpb.NewNullValue(), nil
		}
		m := make(map[string]any, rv.Len())
		for _, k := range rv.MapKeys() {
			m[k.String()] = rv.MapIndex(k).Interface()
		}
		return toValue(m, path)
	}
	return nil, fmt.Errorf("%s: cannot store a %T in metadata (want JSON values)", path, v)
}

func toStructAt(m map[string]any, path string) (*structpb.Struct, error) {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error for the same input
	for _, k := range keys {
		at := k
		if path != "" {
			at = path + "." + k
		}
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("key %q is not valid UTF-8", at)
		}
		pv, err := toValue(m[k], at)
		if err != nil {
			return nil, err
		}
		s.Fields[k] = pv
	}
	return s, nil
}

func number(f float64, path string) (*structpb.Value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s: %v is not a JSON number", path, f)
	}
	return structpb.NewNumberValue(f), nil
}
