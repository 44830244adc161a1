package api_test

import (
	"fmt"
	"sort"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// This test pins the wire format independently of the generated code: the
// table below is written by hand from Clarifai's public API definitions, and the
// encoded bytes of messages carrying every field we use are walked with
// protowire and checked against it. A wrong field number or scalar type in a
// .proto file (say a double where the API has a float) fails here even though
// the generated code would happily round-trip its own mistake.

const (
	varint  = protowire.VarintType
	fixed32 = protowire.Fixed32Type // float
	bytesT  = protowire.BytesType   // string, bytes, message, packed
)

type wireField struct {
	name string
	typ  protowire.Type
	msg  string // schema of the nested message, for message fields
}

var wireSchema = map[string]map[protowire.Number]wireField{
	"UserAppIDSet": {1: {"user_id", bytesT, ""}, 2: {"app_id", bytesT, ""}},
	"Status": {
		1: {"code", varint, ""}, 2: {"description", bytesT, ""}, 3: {"details", bytesT, ""},
		5: {"percent_completed", varint, ""}, 7: {"req_id", bytesT, ""},
	},
	"Timestamp": {1: {"seconds", varint, ""}, 2: {"nanos", varint, ""}},
	"Input": {
		1: {"id", bytesT, ""}, 2: {"data", bytesT, "Data"}, 4: {"created_at", bytesT, "Timestamp"},
		5: {"modified_at", bytesT, "Timestamp"}, 6: {"status", bytesT, "Status"}, 7: {"dataset_ids", bytesT, ""},
	},
	"Data": {
		1: {"image", bytesT, "Image"}, 2: {"video", bytesT, "Video"}, 3: {"concepts", bytesT, "Concept"},
		5: {"metadata", bytesT, "Struct"}, 6: {"geo", bytesT, "Geo"}, 11: {"regions", bytesT, "Region"},
		13: {"text", bytesT, "Text"}, 14: {"audio", bytesT, "Audio"}, 19: {"parts", bytesT, "Part"},
	},
	"Image": {1: {"url", bytesT, ""}, 2: {"base64", bytesT, ""}, 4: {"allow_duplicate_url", varint, ""}},
	"Video": {1: {"url", bytesT, ""}, 2: {"base64", bytesT, ""}, 4: {"allow_duplicate_url", varint, ""}},
	"Audio": {1: {"url", bytesT, ""}, 2: {"base64", bytesT, ""}, 4: {"allow_duplicate_url", varint, ""}},
	"Text":  {1: {"raw", bytesT, ""}, 2: {"url", bytesT, ""}, 3: {"allow_duplicate_url", varint, ""}},
	"Concept": {
		1: {"id", bytesT, ""}, 2: {"name", bytesT, ""}, 3: {"value", fixed32, ""},
	},
	"Geo":      {1: {"geo_point", bytesT, "GeoPoint"}},
	"GeoPoint": {1: {"longitude", fixed32, ""}, 2: {"latitude", fixed32, ""}},
	"Region": {
		1: {"id", bytesT, ""}, 2: {"region_info", bytesT, "RegionInfo"}, 3: {"data", bytesT, "Data"},
		4: {"value", fixed32, ""},
	},
	"RegionInfo": {1: {"bounding_box", bytesT, "BoundingBox"}, 5: {"polygon", bytesT, "Polygon"}},
	"BoundingBox": {
		1: {"top_row", fixed32, ""}, 2: {"left_col", fixed32, ""},
		3: {"bottom_row", fixed32, ""}, 4: {"right_col", fixed32, ""},
	},
	"Polygon": {1: {"points", bytesT, "Point"}},
	"Point":   {1: {"row", fixed32, ""}, 2: {"col", fixed32, ""}, 4: {"visibility", varint, ""}},
	"Part":    {1: {"data", bytesT, "Data"}, 2: {"id", bytesT, ""}},
	"Annotation": {
		1: {"id", bytesT, ""}, 2: {"input_id", bytesT, ""}, 3: {"data", bytesT, "Data"},
		7: {"status", bytesT, "Status"},
	},
	"Dataset":    {1: {"id", bytesT, ""}, 7: {"description", bytesT, ""}, 8: {"metadata", bytesT, "Struct"}},
	"InputCount": {1: {"processed", varint, ""}, 2: {"to_process", varint, ""}, 3: {"errors", varint, ""}, 4: {"processing", varint, ""}},
	"InputsAddJob": {
		1: {"id", bytesT, ""}, 7: {"progress", bytesT, "InputsAddJobProgress"},
		10: {"extraction_jobs", bytesT, "InputsExtractionJob"}, 12: {"status", bytesT, "Status"},
	},
	"InputsAddJobProgress": {
		1: {"pending_count", varint, ""}, 2: {"in_progress_count", varint, ""},
		3: {"success_count", varint, ""}, 4: {"failed_count", varint, ""},
	},
	"InputsExtractionJob": {
		1: {"status", bytesT, "Status"}, 2: {"id", bytesT, ""}, 3: {"url", bytesT, ""},
		4: {"progress", bytesT, "InputsExtractionJobProgress"}, 5: {"created_at", bytesT, "Timestamp"},
		7: {"input_id_conflict_resolution", varint, ""}, 8: {"input_template", bytesT, "Input"},
	},
	"InputsExtractionJobProgress": {
		2: {"audio_inputs_count", varint, ""}, 3: {"image_inputs_count", varint, ""},
		4: {"video_inputs_count", varint, ""}, 5: {"text_inputs_count", varint, ""},
		6: {"pending_archives_count", varint, ""}, 7: {"in_progress_archives_count", varint, ""},
		8: {"completed_archives_count", varint, ""}, 9: {"failed_archives_count", varint, ""},
	},
	"InputsDataSource": {
		1: {"inputs_add_job_id", bytesT, ""}, 2: {"url", bytesT, "DataSourceURL"},
		3: {"input_id_conflict_resolution", varint, ""}, 4: {"input_template", bytesT, "Input"},
	},
	"DataSourceURL": {1: {"url", bytesT, ""}, 2: {"credentials", bytesT, "DataSourceCredentials"}},
	"DataSourceCredentials": {
		1: {"s3_creds", bytesT, "AWSCreds"}, 2: {"gcp_creds", bytesT, ""}, 4: {"azure_blob_creds", bytesT, "AzureBlobCreds"},
	},
	"AWSCreds":       {2: {"region", bytesT, ""}, 3: {"id", bytesT, ""}, 4: {"secret", bytesT, ""}, 5: {"token", bytesT, ""}},
	"AzureBlobCreds": {1: {"account_name", bytesT, ""}, 2: {"account_key", bytesT, ""}},

	"PostInputsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"inputs", bytesT, "Input"},
		3: {"inputs_add_job_id", bytesT, ""}, 4: {"input_id_conflict_resolution", varint, ""},
	},
	"ListInputsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"page", varint, ""}, 3: {"per_page", varint, ""},
		4: {"ids", bytesT, ""}, 5: {"status", bytesT, "Status"},
	},
	"GetInputRequest":        {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"input_id", bytesT, ""}},
	"DeleteInputsRequest":    {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"ids", bytesT, ""}},
	"PatchInputsRequest":     {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"inputs", bytesT, "Input"}, 3: {"action", bytesT, ""}},
	"PostAnnotationsRequest": {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"annotations", bytesT, "Annotation"}},
	"ListAnnotationsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"ids", bytesT, ""}, 3: {"input_ids", bytesT, ""},
		6: {"list_all_annotations", varint, ""}, 7: {"page", varint, ""}, 8: {"per_page", varint, ""},
	},
	"StreamInputsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"per_page", varint, ""}, 3: {"last_id", bytesT, ""},
		4: {"descending", varint, ""}, 5: {"order_by_id", varint, ""},
	},
	"PatchAnnotationsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"annotations", bytesT, "Annotation"},
		3: {"action", bytesT, ""}, 4: {"delete_if_empty_data", varint, ""},
	},
	"DeleteAnnotationsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"ids", bytesT, ""}, 3: {"input_ids", bytesT, ""},
	},
	"PostDatasetInputsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"dataset_id", bytesT, ""}, 3: {"dataset_inputs", bytesT, "DatasetInput"},
	},
	"ListDatasetInputsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"dataset_id", bytesT, ""}, 3: {"page", varint, ""}, 4: {"per_page", varint, ""},
	},
	"DeleteDatasetInputsRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"dataset_id", bytesT, ""}, 3: {"input_ids", bytesT, ""},
	},
	"DatasetInput":              {1: {"created_at", bytesT, "Timestamp"}, 2: {"input", bytesT, "Input"}},
	"MultiDatasetInputResponse": {1: {"status", bytesT, "Status"}, 2: {"dataset_inputs", bytesT, "DatasetInput"}},
	"BaseResponse":              {1: {"status", bytesT, "Status"}},
	"GetInputsAddJobRequest":    {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"id", bytesT, ""}},
	"ListInputsAddJobsRequest":  {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"page", varint, ""}, 3: {"per_page", varint, ""}},
	"PostInputsDataSourcesRequest": {
		1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"data_sources", bytesT, "InputsDataSource"},
		3: {"call_back_url", bytesT, ""},
	},
	"GetInputsExtractionJobRequest":     {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"inputs_extraction_job_id", bytesT, ""}},
	"ListInputsExtractionJobsRequest":   {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"page", varint, ""}, 3: {"per_page", varint, ""}},
	"CancelInputsExtractionJobsRequest": {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"ids", bytesT, ""}},
	"PostDatasetsRequest":               {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"datasets", bytesT, "Dataset"}},
	"ListDatasetsRequest":               {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"page", varint, ""}, 3: {"per_page", varint, ""}},
	"GetDatasetRequest":                 {1: {"user_app_id", bytesT, "UserAppIDSet"}, 2: {"dataset_id", bytesT, ""}},

	"MultiInputResponse": {
		1: {"status", bytesT, "Status"}, 2: {"inputs", bytesT, "Input"}, 3: {"inputs_add_job", bytesT, "InputsAddJob"},
	},
	"SingleInputCountResponse":          {1: {"status", bytesT, "Status"}, 2: {"counts", bytesT, "InputCount"}},
	"MultiInputsAddJobResponse":         {1: {"status", bytesT, "Status"}, 2: {"inputs_add_jobs", bytesT, "InputsAddJob"}},
	"SingleInputsExtractionJobResponse": {1: {"status", bytesT, "Status"}, 2: {"inputs_extraction_job", bytesT, "InputsExtractionJob"}},
	"MultiAnnotationResponse":           {1: {"status", bytesT, "Status"}, 2: {"annotations", bytesT, "Annotation"}},
}

func TestWireFormat(t *testing.T) {
	seen := make(map[string]bool)
	for _, tc := range wireSamples() {
		t.Run(tc.schema, func(t *testing.T) {
			b, err := proto.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			walkWire(t, tc.schema, b, seen)
		})
	}
	// Every hand-written entry must have been carried by some sample, so the
	// table cannot list a field the samples forgot to set.
	var missing []string
	for msg, fields := range wireSchema {
		for num, f := range fields {
			if key := fmt.Sprintf("%s.%s(%d)", msg, f.name, num); !seen[key] {
				missing = append(missing, key)
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("no sample encodes %s", m)
	}
}

func walkWire(t *testing.T, schema string, b []byte, seen map[string]bool) {
	t.Helper()
	fields, ok := wireSchema[schema]
	if !ok {
		t.Fatalf("no schema for %s", schema)
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: bad tag: %v", schema, protowire.ParseError(n))
		}
		b = b[n:]
		f, ok := fields[num]
		if !ok {
			t.Errorf("%s: field %d is on the wire but not in the hand-written table", schema, num)
		} else if f.typ != typ {
			t.Errorf("%s.%s(%d): wire type %d, want %d", schema, f.name, num, typ, f.typ)
		}
		if ok {
			seen[fmt.Sprintf("%s.%s(%d)", schema, f.name, num)] = true
		}
		if ok && f.msg != "" && typ == bytesT {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				t.Fatalf("%s.%s: %v", schema, f.name, protowire.ParseError(m))
			}
			if f.msg != "Struct" { // Struct is google's, opaque here
				walkWire(t, f.msg, v, seen)
			}
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			t.Fatalf("%s field %d: %v", schema, num, protowire.ParseError(m))
		}
		b = b[m:]
	}
}

type wireSample struct {
	schema string
	msg    proto.Message
}

func wireSamples() []wireSample {
	app := &pb.UserAppIDSet{UserId: "u", AppId: "a"}
	meta, _ := structpb.NewStruct(map[string]any{"k": "v"})
	ts := &timestamppb.Timestamp{Seconds: 1, Nanos: 2}
	st := &statuspb.Status{Code: statuspb.StatusCode_INPUT_PENDING, Description: "d", Details: "x", PercentCompleted: 5, ReqId: "r"}
	label := &pb.Concept{Id: "cat", Name: "cat", Value: 1}
	region := &pb.Region{
		Id:    "r1",
		Value: 0.5,
		RegionInfo: &pb.RegionInfo{
			BoundingBox: &pb.BoundingBox{TopRow: 0.1, LeftCol: 0.2, BottomRow: 0.3, RightCol: 0.4},
			Polygon: &pb.Polygon{Points: []*pb.Point{
				{Row: 0.1, Col: 0.2, Visibility: pb.Point_VISIBLE}, {Row: 0.3, Col: 0.4}, {Row: 0.5, Col: 0.6},
			}},
		},
		Data: &pb.Data{Concepts: []*pb.Concept{label}},
	}
	input := &pb.Input{
		Id:         "in-1",
		DatasetIds: []string{"ds"},
		Data: &pb.Data{
			Image:    &pb.Image{Url: "https://x/y.jpg", Base64: []byte{0xff, 0xd8}, AllowDuplicateUrl: true},
			Video:    &pb.Video{Url: "https://x/y.mp4", Base64: []byte{1}, AllowDuplicateUrl: true},
			Audio:    &pb.Audio{Url: "https://x/y.wav", Base64: []byte{1}, AllowDuplicateUrl: true},
			Text:     &pb.Text{Raw: "hello", Url: "https://x/y.txt", AllowDuplicateUrl: true},
			Concepts: []*pb.Concept{label},
			Metadata: meta,
			Geo:      &pb.Geo{GeoPoint: &pb.GeoPoint{Longitude: -122.4, Latitude: 37.7}},
			Regions:  []*pb.Region{region},
			Parts:    []*pb.Part{{Id: "p", Data: &pb.Data{Text: &pb.Text{Raw: "caption"}}}},
		},
	}
	stored := &pb.Input{Id: "in-1", CreatedAt: ts, ModifiedAt: ts, Status: st}
	progress := &pb.InputsExtractionJobProgress{
		AudioInputsCount: 1, ImageInputsCount: 2, VideoInputsCount: 3, TextInputsCount: 4,
		PendingArchivesCount: 5, InProgressArchivesCount: 6, CompletedArchivesCount: 7, FailedArchivesCount: 8,
	}
	extraction := &pb.InputsExtractionJob{
		Status: st, Id: "ej", Url: "s3://b/p", Progress: progress, CreatedAt: ts,
		InputIdConflictResolution: pb.InputIDConflictResolution_SUFFIX, InputTemplate: &pb.Input{Id: "t"},
	}
	addJob := &pb.InputsAddJob{
		Id: "job", Status: st, ExtractionJobs: []*pb.InputsExtractionJob{extraction},
		Progress: &pb.InputsAddJobProgress{PendingCount: 1, InProgressCount: 2, SuccessCount: 3, FailedCount: 4},
	}
	source := func(c *pb.DataSourceCredentials) *pb.PostInputsDataSourcesRequest {
		return &pb.PostInputsDataSourcesRequest{UserAppId: app, CallBackUrl: "https://cb", DataSources: []*pb.InputsDataSource{{
			InputsAddJobId: "job", InputIdConflictResolution: pb.InputIDConflictResolution_SKIP,
			InputTemplate: input, Url: &pb.DataSourceURL{Url: "s3://b/p", Credentials: c},
		}}}
	}
	return []wireSample{
		{"PostInputsRequest", &pb.PostInputsRequest{
			UserAppId: app, Inputs: []*pb.Input{input}, InputsAddJobId: "job",
			InputIdConflictResolution: pb.InputIDConflictResolution_SUFFIX,
		}},
		{"ListInputsRequest", &pb.ListInputsRequest{UserAppId: app, Page: 2, PerPage: 1000, Ids: []string{"a"}, Status: &statuspb.Status{Code: statuspb.StatusCode_INPUT_SUCCESS}}},
		{"GetInputRequest", &pb.GetInputRequest{UserAppId: app, InputId: "a"}},
		{"DeleteInputsRequest", &pb.DeleteInputsRequest{UserAppId: app, Ids: []string{"a"}}},
		{"PatchInputsRequest", &pb.PatchInputsRequest{UserAppId: app, Inputs: []*pb.Input{input}, Action: "merge"}},
		{"PostAnnotationsRequest", &pb.PostAnnotationsRequest{UserAppId: app, Annotations: []*pb.Annotation{{
			Id: "an", InputId: "in-1", Data: &pb.Data{Regions: []*pb.Region{region}}, Status: st,
		}}}},
		{"ListAnnotationsRequest", &pb.ListAnnotationsRequest{UserAppId: app, Ids: []string{"an"}, InputIds: []string{"a"}, ListAllAnnotations: true, Page: 1, PerPage: 10}},
		{"StreamInputsRequest", &pb.StreamInputsRequest{UserAppId: app, PerPage: 1000, LastId: "in-1", Descending: true, OrderById: true}},
		{"PatchAnnotationsRequest", &pb.PatchAnnotationsRequest{UserAppId: app, Action: "remove", DeleteIfEmptyData: true, Annotations: []*pb.Annotation{{
			Id: "an", InputId: "in-1", Data: &pb.Data{Regions: []*pb.Region{region}}, Status: st,
		}}}},
		{"DeleteAnnotationsRequest", &pb.DeleteAnnotationsRequest{UserAppId: app, Ids: []string{"an"}, InputIds: []string{"in-1"}}},
		{"PostDatasetInputsRequest", &pb.PostDatasetInputsRequest{UserAppId: app, DatasetId: "ds", DatasetInputs: []*pb.DatasetInput{{CreatedAt: ts, Input: &pb.Input{Id: "in-1"}}}}},
		{"ListDatasetInputsRequest", &pb.ListDatasetInputsRequest{UserAppId: app, DatasetId: "ds", Page: 2, PerPage: 3}},
		{"DeleteDatasetInputsRequest", &pb.DeleteDatasetInputsRequest{UserAppId: app, DatasetId: "ds", InputIds: []string{"in-1"}}},
		{"MultiDatasetInputResponse", &pb.MultiDatasetInputResponse{Status: st, DatasetInputs: []*pb.DatasetInput{{CreatedAt: ts, Input: stored}}}},
		{"BaseResponse", &statuspb.BaseResponse{Status: st}},
		{"GetInputsAddJobRequest", &pb.GetInputsAddJobRequest{UserAppId: app, Id: "job"}},
		{"ListInputsAddJobsRequest", &pb.ListInputsAddJobsRequest{UserAppId: app, Page: 1, PerPage: 2}},
		{"PostInputsDataSourcesRequest", source(&pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_S3Creds{
			S3Creds: &pb.AWSCreds{Region: "r", Id: "i", Secret: "s", Token: "t"}}})},
		{"PostInputsDataSourcesRequest", source(&pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_GcpCreds{GcpCreds: []byte("{}")}})},
		{"PostInputsDataSourcesRequest", source(&pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_AzureBlobCreds{
			AzureBlobCreds: &pb.AzureBlobCreds{AccountName: "n", AccountKey: "k"}}})},
		{"GetInputsExtractionJobRequest", &pb.GetInputsExtractionJobRequest{UserAppId: app, InputsExtractionJobId: "ej"}},
		{"ListInputsExtractionJobsRequest", &pb.ListInputsExtractionJobsRequest{UserAppId: app, Page: 1, PerPage: 2}},
		{"CancelInputsExtractionJobsRequest", &pb.CancelInputsExtractionJobsRequest{UserAppId: app, Ids: []string{"ej"}}},
		{"PostDatasetsRequest", &pb.PostDatasetsRequest{UserAppId: app, Datasets: []*pb.Dataset{{Id: "ds", Description: "d", Metadata: meta}}}},
		{"ListDatasetsRequest", &pb.ListDatasetsRequest{UserAppId: app, Page: 1, PerPage: 2}},
		{"GetDatasetRequest", &pb.GetDatasetRequest{UserAppId: app, DatasetId: "ds"}},
		{"MultiInputResponse", &pb.MultiInputResponse{Status: st, Inputs: []*pb.Input{stored}, InputsAddJob: addJob}},
		{"SingleInputCountResponse", &pb.SingleInputCountResponse{Status: st, Counts: &pb.InputCount{Processed: 1, ToProcess: 2, Errors: 3, Processing: 4}}},
		{"MultiInputsAddJobResponse", &pb.MultiInputsAddJobResponse{Status: st, InputsAddJobs: []*pb.InputsAddJob{addJob}}},
		{"SingleInputsExtractionJobResponse", &pb.SingleInputsExtractionJobResponse{Status: st, InputsExtractionJob: extraction}},
		{"MultiAnnotationResponse", &pb.MultiAnnotationResponse{Status: st, Annotations: []*pb.Annotation{{Id: "an", InputId: "in-1", Status: st}}}},
	}
}

// TestServiceMethodPaths pins the method paths the server routes on.
func TestServiceMethodPaths(t *testing.T) {
	for got, want := range map[string]string{
		pb.V2_PostInputs_FullMethodName:                 "/clarifai.api.V2/PostInputs",
		pb.V2_ListInputs_FullMethodName:                 "/clarifai.api.V2/ListInputs",
		pb.V2_GetInput_FullMethodName:                   "/clarifai.api.V2/GetInput",
		pb.V2_GetInputCount_FullMethodName:              "/clarifai.api.V2/GetInputCount",
		pb.V2_DeleteInputs_FullMethodName:               "/clarifai.api.V2/DeleteInputs",
		pb.V2_PatchInputs_FullMethodName:                "/clarifai.api.V2/PatchInputs",
		pb.V2_PostAnnotations_FullMethodName:            "/clarifai.api.V2/PostAnnotations",
		pb.V2_ListAnnotations_FullMethodName:            "/clarifai.api.V2/ListAnnotations",
		pb.V2_GetInputsAddJob_FullMethodName:            "/clarifai.api.V2/GetInputsAddJob",
		pb.V2_ListInputsAddJobs_FullMethodName:          "/clarifai.api.V2/ListInputsAddJobs",
		pb.V2_CancelInputsAddJob_FullMethodName:         "/clarifai.api.V2/CancelInputsAddJob",
		pb.V2_PostInputsDataSources_FullMethodName:      "/clarifai.api.V2/PostInputsDataSources",
		pb.V2_GetInputsExtractionJob_FullMethodName:     "/clarifai.api.V2/GetInputsExtractionJob",
		pb.V2_ListInputsExtractionJobs_FullMethodName:   "/clarifai.api.V2/ListInputsExtractionJobs",
		pb.V2_CancelInputsExtractionJobs_FullMethodName: "/clarifai.api.V2/CancelInputsExtractionJobs",
		pb.V2_PostDatasets_FullMethodName:               "/clarifai.api.V2/PostDatasets",
		pb.V2_ListDatasets_FullMethodName:               "/clarifai.api.V2/ListDatasets",
		pb.V2_GetDataset_FullMethodName:                 "/clarifai.api.V2/GetDataset",
		pb.V2_StreamInputs_FullMethodName:               "/clarifai.api.V2/StreamInputs",
		pb.V2_PatchAnnotations_FullMethodName:           "/clarifai.api.V2/PatchAnnotations",
		pb.V2_DeleteAnnotations_FullMethodName:          "/clarifai.api.V2/DeleteAnnotations",
		pb.V2_PostDatasetInputs_FullMethodName:          "/clarifai.api.V2/PostDatasetInputs",
		pb.V2_ListDatasetInputs_FullMethodName:          "/clarifai.api.V2/ListDatasetInputs",
		pb.V2_DeleteDatasetInputs_FullMethodName:        "/clarifai.api.V2/DeleteDatasetInputs",
	} {
		if got != want {
			t.Errorf("method path %q, want %q", got, want)
		}
	}
}

// TestStatusCodeNumbers pins the codes the retry classifier depends on.
func TestStatusCodeNumbers(t *testing.T) {
	for code, want := range map[statuspb.StatusCode]int32{
		statuspb.StatusCode_SUCCESS: 10000, statuspb.StatusCode_MIXED_STATUS: 10010, statuspb.StatusCode_FAILURE: 10020,
		statuspb.StatusCode_TRY_AGAIN: 10030, statuspb.StatusCode_CONN_EXCEED_HOURLY_LIMIT: 11003,
		statuspb.StatusCode_CONN_THROTTLED: 11005, statuspb.StatusCode_CONN_INSUFFICIENT_SCOPES: 11007,
		statuspb.StatusCode_CONN_KEY_INVALID: 11008, statuspb.StatusCode_INPUT_SUCCESS: 30000,
		statuspb.StatusCode_INPUT_PENDING: 30001,
		statuspb.StatusCode_INPUT_FAILED:  30002, statuspb.StatusCode_INPUT_IN_PROGRESS: 30003,
		statuspb.StatusCode_INPUT_DUPLICATE: 30100, statuspb.StatusCode_INPUT_INVALID_ARGUMENT: 30104,
		statuspb.StatusCode_INPUT_OVER_LIMIT: 30105, statuspb.StatusCode_DATABASE_DUPLICATE_KEY: 40010,
		statuspb.StatusCode_RPC_REQUEST_QUEUE_FULL: 40030, statuspb.StatusCode_RPC_SERVER_UNAVAILABLE: 40031,
		statuspb.StatusCode_RPC_REQUEST_TIMEOUT: 40032, statuspb.StatusCode_RPC_MAX_MESSAGE_SIZE_EXCEEDED: 40033,
		statuspb.StatusCode_QUEUE_CONN_ERROR: 41000, statuspb.StatusCode_JOB_COMPLETED: 64002,
		statuspb.StatusCode_JOB_CANCELLED: 64004, statuspb.StatusCode_INTERNAL_SERVER_ISSUE: 98004,
		statuspb.StatusCode_ANNOTATION_SUCCESS: 24150, statuspb.StatusCode_INPUT_DOES_NOT_EXIST: 30102,
		statuspb.StatusCode_DATASET_INPUT_SUCCESS: 64100, statuspb.StatusCode_DATASET_INPUT_DUPLICATE: 64101,
		statuspb.StatusCode_ANNOTATION_INVALID_ARGUMENT: 24155,
	} {
		if int32(code) != want {
			t.Errorf("%v = %d, want %d", code, int32(code), want)
		}
	}
}
