// Package configs is the job file, one YAML document that describes the
// sources, transforms, target, upload settings and state paths of a run,
// and Job.Run, the one call that runs a job (loaded from YAML or built in
// Go) with your own transforms and sources and returns its Report.
//
// Design notes (how a Job composes the packages' configs, where settings
// come from, error wording): DESIGN.md in this folder.
package configs
