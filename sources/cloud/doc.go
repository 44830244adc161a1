// Package cloud drives Clarifai's server-side ingestion from cloud storage:
// instead of uploading bytes, the caller points Clarifai at an S3 or GCS
// bucket prefix, an Azure blob container prefix or an archive URL, and the
// server lists, downloads, extracts and ingests the files itself
// (PostInputsDataSources).
//
//	spec := cloud.Spec{URLs: []string{"s3://bucket/images/"}, Concepts: []string{"cat"}}
//	spec.Credentials, err = cloud.CredentialSources{}.Resolve(spec.URLs...)
//	job, err := cloud.Start(ctx, client, spec)      // one inputs-add job, one extraction job per URL
//	job, err = cloud.Wait(ctx, client, job.ID, cloud.WaitOptions{OnProgress: show})
//	switch job.State() { ... }                      // completed, failed, cancelled; job.HasFailures()
//
// Status, List and Cancel look at and stop jobs; Source runs a cloud
// ingestion as a pipeline.Source, for the `cloud:` entry of a job file.
//
// Every call goes through the given API, in practice a *client.Client of
// sinks/clarifai/client: its shared rate budget and retries apply to
// polling too. Credentials
// (CredentialSources) are read from explicit values, the standard
// environment variables and the AWS shared files; they travel only inside
// the PostInputsDataSources request, and their types print "[redacted]".
// URLs are printed and logged without their query string (RedactURL),
// where presigned and SAS URLs carry their signatures.
package cloud
