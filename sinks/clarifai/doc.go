// Package clarifai delivers pipeline items to Clarifai: Sink is the
// pipeline.Sink that uploads them with PostInputs, adds their regions with
// PostAnnotations and (unless SinkConfig.Verify is false) confirms that Clarifai
// processed them, reporting one result per item. DryRun checks items and
// plans the calls without sending any. The network is behind the API
// interface, in practice a *client.Client of sinks/clarifai/client.
//
// Design notes: DESIGN.md in this folder.
package clarifai
