package cli

import (
	"errors"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/ingestkit/clarifai-ingest/configs"
	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/sources/annotations"
	"github.com/ingestkit/clarifai-ingest/sources/dir"
	"github.com/ingestkit/clarifai-ingest/sources/manifest"
	"github.com/ingestkit/clarifai-ingest/sources/media"
	"github.com/ingestkit/clarifai-ingest/sources/report"
	"github.com/ingestkit/clarifai-ingest/sources/urllist"
	"github.com/ingestkit/clarifai-ingest/transforms"
)

// buildSources turns the job's source specs into pipeline sources. Errors
// name the source by its index in the job file.
// With a shard, each source streams only the shard's items. cloud builds
// the source of a cloud entry (it needs the run's client).
func buildSources(job *configs.Job, log *zap.Logger, cloud func(*configs.CloudSource) (pipeline.Source, error)) ([]pipeline.Source, error) {
	shard, err := jobShard(job)
	if err != nil {
		return nil, err
	}
	var out []pipeline.Source
	for i, spec := range job.Sources {
		var src pipeline.Source
		if spec.Cloud != nil {
			// Server-side ingestion: the whole job runs on the server, so a
			// cloud source is not sharded (shard 0 runs it).
			if shard.Enabled() && shard.Index != 0 {
				continue
			}
			// A nil source with no error leaves the entry out.
			src, err = cloud(spec.Cloud)
			if err == nil {
				if src != nil {
					out = append(out, src)
				}
				continue
			}
		} else {
			src, err = buildSource(job, spec, log)
			if err == nil {
				err = checkHeader(src)
			}
		}
		if err != nil {
			return nil, usageError(fmt.Errorf("sources[%d] (%s): %w", i, spec.Kind(), err))
		}
		out = append(out, pipeline.Sharded(src, shard))
	}
	return out, nil
}

// checkHeader rejects a manifest whose header cannot be used (an empty
// file, unknown columns) before the run starts: nothing has been sent then,
// so it is bad input (ExitUsage), not a failed run. A manifest that cannot be
// opened is left to the run, which reports it as before.
func checkHeader(src pipeline.Source) error {
	m, ok := src.(*manifest.Source)
	if !ok {
		return nil
	}
	if err := m.CheckHeader(); errors.Is(err, manifest.ErrBadHeader) {
		return err
	}
	return nil
}

// jobShard returns the job's shard (the zero Shard when not sharded).
func jobShard(job *configs.Job) (pipeline.Shard, error) {
	if job.Shard == "" {
		return pipeline.Shard{}, nil
	}
	s, err := pipeline.ParseShard(job.Shard)
	if err != nil {
		return s, usageError(err)
	}
	return s, nil
}

// shardRate is the rate budget of this process: each of n shards takes 1/n
// of the job's, so that together they stay within it.
func shardRate(job *configs.Job) float64 {
	rate := job.Upload.RateLimit
	if sh, err := jobShard(job); err == nil && sh.Enabled() && rate > 0 {
		rate /= float64(sh.Count)
	}
	return rate
}

func buildSource(job *configs.Job, spec configs.Source, log *zap.Logger) (pipeline.Source, error) {
	kind := func(s string) (pipeline.Kind, error) {
		if s == "" {
			return pipeline.KindUnknown, nil
		}
		return pipeline.ParseKind(s)
	}
	datasets := func(ids []string) []string {
		return append(append([]string(nil), job.Upload.DatasetIDs...), ids...)
	}
	switch {
	case spec.Dir != nil:
		d := spec.Dir
		k, err := kind(d.Kind)
		if err != nil {
			return nil, err
		}
		cfg := dir.Config{
			Root: job.Path(d.Path), Include: d.Include, Exclude: d.Exclude, Kind: k,
			IgnoreCase: d.IgnoreCase, FollowSymlinks: d.FollowSymlinks, IncludeHidden: d.IncludeHidden,
			IgnoreSidecars:    d.Sidecars != nil && !*d.Sidecars,
			LabelsFromFolders: d.LabelsFromFolders, SplitFromPath: d.SplitFromPath,
			SplitDatasets: d.SplitDatasets, PairText: d.PairText, DatasetIDs: datasets(d.DatasetIDs),
		}
		if a := d.Annotations; a != nil {
			cfg.Annotations = &annotations.Config{
				Format: annotations.Format(a.Format), Path: job.Path(a.Path), Classes: job.Path(a.Classes),
				Polygons: a.Polygons, InputConcepts: a.InputConcepts, IgnoreUnmatched: a.IgnoreUnmatched,
			}
		}
		return dir.New(cfg, dir.WithLogger(log))
	case spec.CSV != nil:
		c := spec.CSV
		in, err := kind(c.InputType)
		if err != nil {
			return nil, fmt.Errorf("input_type: %w", err)
		}
		def, err := kind(c.DefaultKind)
		if err != nil {
			return nil, fmt.Errorf("default_kind: %w", err)
		}
		format := manifest.Format(c.Format)
		if format == "auto" {
			format = manifest.FormatAuto
		}
		return manifest.New(manifest.Config{
			Path: job.Path(c.Path), Format: format, InputType: in, CSVType: manifest.CSVType(c.CSVType),
			DefaultKind: def, DatasetIDs: datasets(c.DatasetIDs), SplitDatasets: c.SplitDatasets,
			MetadataColumns: c.MetadataColumns,
		})
	case spec.URLs != nil:
		u := spec.URLs
		k, err := kind(u.Kind)
		if err != nil {
			return nil, err
		}
		return urllist.New(urllist.Config{Path: job.Path(u.Path), Kind: k, DatasetIDs: datasets(u.DatasetIDs)})
	case spec.Report != nil:
		return report.NewSource(job.Path(spec.Report.Path), report.SourceOptions{IncludeSkipped: spec.Report.IncludeSkipped}), nil
	}
	return nil, fmt.Errorf("empty source")
}

// buildTransforms returns the media detector, the job's transforms, and
// the annotations transform at the end when the job does not list it: the
// detector must see every local file first, and every region must be
// normalized and validated before it is sent.
func (e *env) buildTransforms(job *configs.Job, log *zap.Logger) ([]pipeline.Transform, error) {
	specs := job.Transforms
	if !slices.ContainsFunc(specs, func(s transforms.Spec) bool { return s.Annotations != nil }) {
		specs = append(slices.Clone(specs), transforms.Spec{Annotations: &transforms.AnnotationsConfig{}})
	}
	ts, err := transforms.Build(specs, e.registry, transforms.WithLogger(log))
	if err != nil {
		return nil, usageError(err)
	}
	return append([]pipeline.Transform{media.Detector()}, ts...), nil
}
