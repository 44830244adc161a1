package k8s

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ingestkit/clarifai-ingest/configs"
)

// image is the image the release publishes (.goreleaser.yaml, dockers_v2;
// cmd/ingest-image); TestImageIsTheReleased reads the release config.
const image = "ghcr.io/ingestkit/clarifai-ingest"

// render runs kustomize on this folder, as `kubectl kustomize configs/k8s`
// does, and returns the resulting objects as YAML documents by kind.
func render(t *testing.T) map[string][][]byte {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatalf("kustomize: %v", err)
	}
	docs := map[string][][]byte{}
	for _, r := range res.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		docs[r.GetKind()] = append(docs[r.GetKind()], b)
	}
	return docs
}

// decode decodes one document strictly into v: a field that v's Kubernetes
// type does not have fails, as `kubectl apply --validate=strict` would.
func decode(t *testing.T, doc []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
}

// TestStrictDecodingCatchesUnknownFields checks that decode is strict: a
// misspelt field fails.
func TestStrictDecodingCatchesUnknownFields(t *testing.T) {
	var job batchv1.Job
	err := yaml.UnmarshalStrict([]byte("apiVersion: batch/v1\nkind: Job\nspec:\n  completionz: 4\n"), &job)
	if err == nil || !strings.Contains(err.Error(), "completionz") {
		t.Errorf("a misspelt field decoded without error (%v)", err)
	}
}

// TestManifests renders the kustomization and checks the objects with
// Kubernetes' own types: an Indexed Job whose shard argument matches its
// completions, the image the release builds, a job file this tool accepts,
// and volumes and the secret wired to what the container uses.
func TestManifests(t *testing.T) {
	docs := render(t)
	if len(docs["Job"]) != 1 || len(docs["PersistentVolumeClaim"]) != 1 || len(docs["ConfigMap"]) != 1 || len(docs) != 3 {
		t.Fatalf("want one Job, one PersistentVolumeClaim and one ConfigMap (the settings are local), got %v", kinds(docs))
	}
	var job batchv1.Job
	var pvc corev1.PersistentVolumeClaim
	var cm corev1.ConfigMap
	decode(t, docs["Job"][0], &job)
	decode(t, docs["PersistentVolumeClaim"][0], &pvc)
	decode(t, docs["ConfigMap"][0], &cm)

	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode %v, want Indexed", s.CompletionMode)
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions != *s.Parallelism {
		t.Fatalf("completions %v, parallelism %v: want one pod per shard", s.Completions, s.Parallelism)
	}
	shards := int(*s.Completions)
	if shards != 4 {
		t.Errorf("completions %d, want the kustomization's shards=4", shards)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q, want Never (podFailurePolicy needs it)", pod.RestartPolicy)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("the pod does not require a non-root user (the image runs as 65532)")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want one", len(pod.Containers))
	}
	c := pod.Containers[0]

	// The image is the released one, at a tag.
	if name, tag, ok := strings.Cut(c.Image, ":"); !ok || name != image || tag == "" {
		t.Errorf("image %q, want %s:<tag>", c.Image, image)
	}

	// The shard argument: the completion index of the shard count, which
	// is completions. Kubernetes expands $(VAR) in args from the env.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	shardArg := "--shard=$(JOB_COMPLETION_INDEX)/$(SHARDS)"
	if !slices.Contains(c.Args, shardArg) {
		t.Errorf("args %q lack %s", c.Args, shardArg)
	}
	if got := env["SHARDS"].Value; got != strconv.Itoa(shards) {
		t.Errorf("SHARDS=%q, want completions (%d)", got, shards)
	}
	for _, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != c.Name {
			t.Errorf("podFailurePolicy names container %q, the container is %q", *r.OnExitCodes.ContainerName, c.Name)
		}
	}

	// The PAT comes from the secret, never from a literal.
	pat := env["CLARIFAI_PAT"]
	if pat.Value != "" || pat.ValueFrom == nil || pat.ValueFrom.SecretKeyRef == nil ||
		pat.ValueFrom.SecretKeyRef.Name != "clarifai" || pat.ValueFrom.SecretKeyRef.Key != "pat" {
		t.Errorf("CLARIFAI_PAT = %+v, want it from the secret clarifai, key pat", pat)
	}

	// Every mount names a volume, and every volume is mounted.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("mount %s names no volume", m.Name)
		}
		mounts[m.Name] = m.MountPath
	}
	for name := range volumes {
		if _, ok := mounts[name]; !ok {
			t.Errorf("volume %s is not mounted", name)
		}
	}
	// The job file: the generated ConfigMap (its name carries a hash, and
	// kustomize rewrote the reference), mounted where --config points.
	cfgVol := volumes["config"].ConfigMap
	if cfgVol == nil || cfgVol.Name != cm.Name || !strings.HasPrefix(cm.Name, "clarifai-ingest-job-") {
		t.Errorf("volume config = %+v, want the generated ConfigMap %s", volumes["config"], cm.Name)
	}
	if !slices.Contains(c.Args, "--config="+mounts["config"]+"/job.yaml") {
		t.Errorf("args %q do not read the job file from the config mount %s", c.Args, mounts["config"])
	}
	// The checkpoint: on the claim this kustomization makes, under the
	// state mount, sized by the settings.
	if v := volumes["state"].PersistentVolumeClaim; v == nil || v.ClaimName != pvc.Name {
		t.Errorf("volume state = %+v, want the claim %s", volumes["state"], pvc.Name)
	}
	if got := env["INGEST_STATE_DIR"].Value; !strings.HasPrefix(got, mounts["state"]+"/") {
		t.Errorf("INGEST_STATE_DIR=%q is not on the state volume (%s)", got, mounts["state"])
	}
	if q := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "5Gi" {
		t.Errorf("state claim size %s, want the settings' 5Gi", q.String())
	}
	if v := volumes["data"].PersistentVolumeClaim; v == nil || v.ClaimName != "photos-data" || !v.ReadOnly {
		t.Errorf("volume data = %+v, want the settings' claim photos-data, read-only", volumes["data"])
	}

	// The job file is valid for this tool, with every shard and the PAT
	// from the secret, and reads its data from the data mount.
	j, err := configs.Parse([]byte(cm.Data["job.yaml"]))
	if err != nil {
		t.Fatal(err)
	}
	j.Clarifai.PAT = "from-the-secret"
	for i := range shards {
		j := *j
		j.Shard = strconv.Itoa(i) + "/" + strconv.Itoa(shards)
		j.WithDefaults()
		if err := j.Validate(); err != nil {
			t.Errorf("the ConfigMap's job file, shard %s: %v", j.Shard, err)
		}
	}
	for _, src := range j.Sources {
		if src.CSV != nil && !strings.HasPrefix(src.CSV.Path, mounts["data"]+"/") {
			t.Errorf("the job file reads %s, outside the data mount %s", src.CSV.Path, mounts["data"])
		}
	}
}

// TestImageIsTheReleased checks that the image name here is the one the
// release config publishes.
func TestImageIsTheReleased(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rel struct {
		DockersV2 []struct {
			Images []string `json:"images"`
		} `json:"dockers_v2"`
	}
	if err := yaml.Unmarshal(b, &rel); err != nil {
		t.Fatal(err)
	}
	if len(rel.DockersV2) != 1 || !slices.Equal(rel.DockersV2[0].Images, []string{image}) {
		t.Errorf(".goreleaser.yaml publishes %+v, the manifests run %s", rel.DockersV2, image)
	}
}

// TestSourcesDecodeStrictly decodes the files as written, before kustomize,
// so that a misspelt field in them fails even where kustomize would keep it.
func TestSourcesDecodeStrictly(t *testing.T) {
	b, err := os.ReadFile("indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Job":
			decode(t, []byte(doc), &batchv1.Job{})
		case "PersistentVolumeClaim":
			// Its storage size is a placeholder until kustomize sets it.
			decode(t, bytes.ReplaceAll([]byte(doc), []byte("STATE_STORAGE"), []byte("1Gi")), &corev1.PersistentVolumeClaim{})
		default:
			t.Errorf("unexpected kind %q in indexed-job.yaml", meta.Kind)
		}
	}
}

func kinds(docs map[string][][]byte) map[string]int {
	out := map[string]int{}
	for k, v := range docs {
		out[k] = len(v)
	}
	return out
}

// TestOneKubernetesRelease checks that the k8s.io modules the manifests are
// decoded with are of one Kubernetes release.
func TestOneKubernetesRelease(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*(k8s\.io/(?:api|apimachinery|client-go)) (v\S+)`).FindAllSubmatch(gomod, -1) {
		versions[string(m[1])] = string(m[2])
	}
	if versions["k8s.io/api"] == "" || versions["k8s.io/apimachinery"] != versions["k8s.io/api"] {
		t.Errorf("k8s.io modules at different releases: %v", versions)
	}
	for mod, v := range versions {
		if v != versions["k8s.io/api"] {
			t.Errorf("%s %s, k8s.io/api %s", mod, v, versions["k8s.io/api"])
		}
	}
}
