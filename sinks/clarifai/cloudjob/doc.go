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
package cloudjob

// Design notes. The package comment above says what the package gives;
// what follows is for those who work on it.
//
// Instead of uploading bytes, the caller points Clarifai at an S3 or GCS
// bucket prefix, an Azure blob container prefix or an archive URL, and the
// server lists, downloads, extracts and ingests the files itself. The
// package lives next to the client it drives; sources/cloud wraps an
// Ingestion as the pipeline source of a `cloud:` entry of a job file.
//
// Every call goes through the given API, in practice the Clarifai client:
// its shared rate budget and retries apply to polling too. Credentials
// (CredentialSources) are read from explicit values, the standard
// environment variables and the AWS shared files; they travel only inside
// the PostInputsDataSources request, and their types print "[redacted]".
// URLs are printed and logged without their query string (RedactURL),
// where presigned and SAS URLs carry their signatures.
