// Package k8s holds the Kubernetes manifests that run a job as an Indexed
// Job (kustomization.yaml, indexed-job.yaml, job.yaml) and their test, which
// renders them with kustomize and decodes the result strictly with
// Kubernetes' own types. It is a module of its own so that the Kubernetes
// modules stay out of the project's go.mod; .ci/run runs its test:
//
//	cd configs/k8s && go test ./...
package k8s
