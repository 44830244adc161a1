// Package cloudjob drives Clarifai's server-side ingestion from cloud
// storage (PostInputsDataSources): Start, Status, Wait, List and Cancel a
// job through the Clarifai client, Spec and CredentialSources to describe
// it, and Ingestion to run one resumably across reruns of an ingest job.
//
//	spec := cloudjob.Spec{URLs: []string{"s3://bucket/images/"}, Concepts: []string{"cat"}}
//	spec.Credentials, err = cloudjob.CredentialSources{}.Resolve(spec.URLs...)
//	job, err := cloudjob.Start(ctx, client, spec)      // one inputs-add job, one extraction job per URL
//	job, err = cloudjob.Wait(ctx, client, job.ID, cloudjob.WaitOptions{OnProgress: show})
//	switch job.State() { ... }                         // completed, failed, cancelled; job.HasFailures()
//
// Design notes: DESIGN.md in this folder.
package cloudjob
