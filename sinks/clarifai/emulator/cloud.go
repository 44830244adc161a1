package emulator

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/ingestkit/clarifai-ingest/pipeline"
	"github.com/ingestkit/clarifai-ingest/pipeline/media"
	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb/statuspb"
)

// Cloud storage, emulated with local files.
//
// Options.Buckets maps URL prefixes to local folders (a bucket) or files (a
// single object, such as an archive URL). A data source URL is resolved to
// the longest matching key; the rest of the URL is a prefix filter on object
// keys, as S3 and GCS list them: "s3://b/images/abc" takes
// "images/abcImage.png" and everything under "images/abc-1/". Objects are
// taken in key order (byte order, as S3 lists them).
//
// Credentials of private buckets are compared, never stored: Start keeps a
// salted SHA-256 of each, and the plain values are dropped from the
// server's copy of the options. Nothing the emulator logs, answers or saves
// contains a credential.

// BucketCredentials are the credentials a private bucket accepts. Set the
// fields of exactly one provider. Values print as "[redacted]" with every
// fmt verb, so that Options can be logged.
type BucketCredentials struct {
	// AWSAccessKeyID and AWSSecretAccessKey must match the request's
	// s3_creds id and secret. AWSSessionToken, when set, must match its
	// token too. The region is not checked.
	AWSAccessKeyID, AWSSecretAccessKey, AWSSessionToken string
	// GCPServiceAccountJSON must match the request's gcp_creds as JSON
	// (insignificant whitespace aside).
	GCPServiceAccountJSON []byte
	// AzureAccountName and AzureAccountKey must match the request's
	// azure_blob_creds.
	AzureAccountName, AzureAccountKey string
}

// Format implements fmt.Formatter: the credentials are never printed.
func (BucketCredentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }

// MarshalJSON keeps the credentials out of JSON.
func (BucketCredentials) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

type credKind uint8

const (
	credNone credKind = iota
	credAWS
	credGCP
	credAzure
)

var credNames = [...]string{credNone: "no", credAWS: "AWS (s3_creds)", credGCP: "GCP (gcp_creds)", credAzure: "Azure (azure_blob_creds)"}

// kind returns the one provider whose fields are set, or an error.
func (c BucketCredentials) kind() (credKind, error) {
	var kinds []credKind
	if c.AWSAccessKeyID != "" || c.AWSSecretAccessKey != "" || c.AWSSessionToken != "" {
		kinds = append(kinds, credAWS)
		if c.AWSAccessKeyID == "" || c.AWSSecretAccessKey == "" {
			return credNone, errors.New("AWS credentials need both a key ID and a secret")
		}
	}
	if len(c.GCPServiceAccountJSON) > 0 {
		kinds = append(kinds, credGCP)
		if !json.Valid(c.GCPServiceAccountJSON) {
			return credNone, errors.New("the GCP service account is not valid JSON")
		}
	}
	if c.AzureAccountName != "" || c.AzureAccountKey != "" {
		kinds = append(kinds, credAzure)
		if c.AzureAccountName == "" || c.AzureAccountKey == "" {
			return credNone, errors.New("Azure credentials need both an account name and a key")
		}
	}
	if len(kinds) != 1 {
		return credNone, fmt.Errorf("set the credentials of exactly one provider, not %d", len(kinds))
	}
	return kinds[0], nil
}

// credCheck is what the server keeps of a private bucket's credentials.
type credCheck struct {
	kind     credKind
	sum      [sha256.Size]byte // salted hash of the canonical credential
	awsToken bool              // the AWS credential includes a session token
}

// bucket is one resolved entry of Options.Buckets.
type bucket struct {
	prefix string // the key, without a trailing "/"
	path   string // local folder or file
	file   bool   // path is a file: the prefix names one object
	cred   *credCheck
}

// normalizeBucketKey trims a trailing "/" and checks the URL form.
func normalizeBucketKey(k string) (string, error) {
	k = strings.TrimRight(k, "/")
	if _, _, err := splitCloudURL(k); err != nil {
		return "", err
	}
	return k, nil
}

// splitCloudURL checks that raw is an s3://, gs://, http:// or https:// URL
// with a host (the bucket), and returns its scheme and host.
func splitCloudURL(raw string) (scheme, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("url %q is not a URL", redactURL(raw))
	}
	switch u.Scheme {
	case "s3", "gs", "http", "https":
	default:
		return "", "", fmt.Errorf("url %q must start with s3://, gs://, http:// or https://", redactURL(raw))
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("url %q has no bucket or host", redactURL(raw))
	}
	return u.Scheme, u.Host, nil
}

// redactURL drops the query and fragment of a URL (an Azure SAS token or a
// presigned S3 signature lives there), for messages.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i] + "?[redacted]"
	}
	return raw
}

// validateBuckets checks Options.Buckets and Options.PrivateBuckets without
// touching the file system.
func validateBuckets(buckets map[string]string, private map[string]BucketCredentials) error {
	keys := make(map[string]string, len(buckets))
	for k, p := range buckets {
		n, err := normalizeBucketKey(k)
		if err != nil {
			return fmt.Errorf("emulator: bucket %w", err)
		}
		if p == "" {
			return fmt.Errorf("emulator: bucket %s has no local path", n)
		}
		if _, dup := keys[n]; dup {
			return fmt.Errorf("emulator: bucket %s is given twice", n)
		}
		keys[n] = p
	}
	for k, c := range private {
		n, err := normalizeBucketKey(k)
		if err != nil {
			return fmt.Errorf("emulator: private bucket %w", err)
		}
		if _, ok := keys[n]; !ok {
			return fmt.Errorf("emulator: private bucket %s is not in Buckets", n)
		}
		if _, err := c.kind(); err != nil {
			return fmt.Errorf("emulator: private bucket %s: %w", n, err)
		}
	}
	return nil
}

// resolveBuckets turns the options into buckets, longest prefix first, and
// hashes the private buckets' credentials. It checks that each local path
// exists.
func resolveBuckets(buckets map[string]string, private map[string]BucketCredentials, salt []byte) ([]bucket, error) {
	creds := make(map[string]BucketCredentials, len(private))
	for k, c := range private {
		n, _ := normalizeBucketKey(k)
		creds[n] = c
	}
	out := make([]bucket, 0, len(buckets))
	for k, p := range buckets {
		n, _ := normalizeBucketKey(k)
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("emulator: bucket %s: %w", n, err)
		}
		b := bucket{prefix: n, path: p, file: !fi.IsDir()}
		if c, ok := creds[n]; ok {
			kind, _ := c.kind()
			b.cred = &credCheck{kind: kind, awsToken: c.AWSSessionToken != ""}
			b.cred.sum = credSum(salt, kind, c)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].prefix) > len(out[j].prefix) })
	return out, nil
}

// credSum is the salted hash of a credential in canonical form. Parts are
// length-prefixed so that no two credentials share a form.
func credSum(salt []byte, kind credKind, c BucketCredentials) [sha256.Size]byte {
	h := sha256.New()
	h.Write(salt)
	part := func(b []byte) {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	part([]byte{byte(kind)})
	switch kind {
	case credAWS:
		part([]byte(c.AWSAccessKeyID))
		part([]byte(c.AWSSecretAccessKey))
		part([]byte(c.AWSSessionToken))
	case credGCP:
		var buf bytes.Buffer
		if err := json.Compact(&buf, c.GCPServiceAccountJSON); err != nil {
			buf.Reset()
			buf.Write(c.GCPServiceAccountJSON)
		}
		part(buf.Bytes())
	case credAzure:
		part([]byte(c.AzureAccountName))
		part([]byte(c.AzureAccountKey))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// newSalt returns random bytes for credSum.
func newSalt() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

// findBucket returns the bucket serving raw and the rest of the URL after
// its prefix (without a leading "/"), or nil.
func (s *Server) findBucket(raw string) (*bucket, string) {
	for i := range s.buckets {
		b := &s.buckets[i]
		if raw == b.prefix {
			return b, ""
		}
		if rest, ok := strings.CutPrefix(raw, b.prefix+"/"); ok {
			if b.file && rest != "" {
				continue // a file names one object: nothing lies under it
			}
			return b, rest
		}
	}
	return nil, ""
}

// checkAccess decides whether the credentials sent with a data source open
// its bucket. It returns "" when they do (or the bucket is public or
// unknown: an unknown bucket fails later, when it is listed), or the reason
// they do not, which names no credential.
func (s *Server) checkAccess(raw string, c *pb.DataSourceCredentials) string {
	b, _ := s.findBucket(raw)
	if b == nil || b.cred == nil {
		return ""
	}
	denied := func(why string) string {
		return fmt.Sprintf("access denied listing %s: %s", redactURL(raw), why)
	}
	var got BucketCredentials
	kind := credNone
	switch v := c.GetCredentials().(type) {
	case *pb.DataSourceCredentials_S3Creds:
		kind = credAWS
		got.AWSAccessKeyID, got.AWSSecretAccessKey = v.S3Creds.GetId(), v.S3Creds.GetSecret()
		if b.cred.awsToken {
			got.AWSSessionToken = v.S3Creds.GetToken()
		}
	case *pb.DataSourceCredentials_GcpCreds:
		kind = credGCP
		got.GCPServiceAccountJSON = v.GcpCreds
	case *pb.DataSourceCredentials_AzureBlobCreds:
		kind = credAzure
		got.AzureAccountName, got.AzureAccountKey = v.AzureBlobCreds.GetAccountName(), v.AzureBlobCreds.GetAccountKey()
	}
	switch {
	case kind == credNone:
		return denied(fmt.Sprintf("the bucket is private and the request has no credentials (%s credentials are needed)", credNames[b.cred.kind]))
	case kind != b.cred.kind:
		return denied(fmt.Sprintf("the bucket needs %s credentials, the request has %s credentials", credNames[b.cred.kind], credNames[kind]))
	}
	sum := credSum(s.credSalt, kind, got)
	if subtle.ConstantTimeCompare(sum[:], b.cred.sum[:]) != 1 {
		return denied("the credentials were rejected")
	}
	return ""
}

// object is one file of a listing.
type object struct {
	key     string // object key, slash-separated
	url     string // bucket prefix + "/" + key: identifies the object
	path    string // local file
	size    int64
	archive bool
}

// listObjects lists the objects under raw, in key order. Its errors are
// the details of LIST_OBJECTS_FAILED.
func (s *Server) listObjects(raw string) ([]object, error) {
	b, rest := s.findBucket(raw)
	if b == nil {
		return nil, fmt.Errorf("listing %s: the bucket does not exist or is not reachable (the emulator serves only the URLs given with --bucket)", redactURL(raw))
	}
	if b.file {
		fi, err := os.Stat(b.path)
		if err != nil {
			return nil, fmt.Errorf("listing %s: the object cannot be read", redactURL(raw))
		}
		key := path.Base(b.prefix)
		if u, err := url.Parse(b.prefix); err == nil && u.Path != "" {
			key = path.Base(u.Path)
		}
		return []object{{key: key, url: b.prefix, path: b.path, size: fi.Size(), archive: isArchive(key)}}, nil
	}
	var out []object
	err := filepath.WalkDir(b.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, rerr := filepath.Rel(b.path, p)
		if rerr != nil {
			return rerr
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			// Descend only into folders that can hold matching keys.
			if key != "." && !strings.HasPrefix(rest, key+"/") && !strings.HasPrefix(key+"/", rest) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, rest) {
			return nil
		}
		fi, ierr := d.Info()
		if ierr != nil {
			return ierr
		}
		out = append(out, object{key: key, url: b.prefix + "/" + key, path: p, size: fi.Size(), archive: isArchive(key)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %v", redactURL(raw), err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out, nil
}

// isArchive reports whether a name is a zip, tar or gzipped tar archive.
func isArchive(name string) bool {
	n := strings.ToLower(name)
	for _, ext := range []string{".zip", ".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	return false
}

// maxObjectBytes is the most the emulator reads of one file: the largest
// size any input may have (a video).
const maxObjectBytes = MaxVideoBytes

// readArchive calls visit for each regular file of the archive at p, in
// archive order. Files over maxObjectBytes are visited with nil bytes and
// tooLarge set, unread. It returns the error that stopped it, after visiting
// the files read before it.
func readArchive(p, name string, visit func(member string, b []byte, tooLarge bool)) error {
	if strings.HasSuffix(strings.ToLower(name), ".zip") {
		zr, err := zip.OpenReader(p)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() || !f.Mode().IsRegular() {
				continue
			}
			if f.UncompressedSize64 > maxObjectBytes {
				visit(f.Name, nil, true)
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			b, err := io.ReadAll(io.LimitReader(rc, maxObjectBytes+1))
			_ = rc.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
			visit(f.Name, b, false)
		}
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if n := strings.ToLower(name); strings.HasSuffix(n, ".gz") || strings.HasSuffix(n, ".tgz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxObjectBytes {
			visit(h.Name, nil, true)
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		visit(h.Name, b, false)
	}
}

// skipReason is why a file found by an extraction job is not an input.
type skipReason uint8

const (
	skipNone skipReason = iota
	skipUnsupported
	skipNested
	skipTooLarge
	skipInvalid
	skipDuplicate
	numSkipReasons
)

// skipNames complete "N files skipped: ..." in job details.
var skipNames = [numSkipReasons]string{
	skipNone:        "",
	skipUnsupported: "of an unsupported type",
	skipNested:      "archives inside an archive (not extracted)",
	skipTooLarge:    "over the size limit",
	skipInvalid:     "empty or invalid",
	skipDuplicate:   "whose input ID already exists (conflict resolution SKIP)",
}

// prepared is a file turned into an input, ready to be stored; all I/O and
// decoding is done. Media bytes are not kept.
type prepared struct {
	key     string // object key, or archive key + "/" + member, for notes
	skip    skipReason
	kind    MediaKind
	id      string // the deterministic input ID
	blob    []byte // marshaled pb.Input{Data, DatasetIds}
	digests []digest
	fail    failReason
}

// prepareFile turns one file into an input built on tmpl: its kind comes
// from its content and name (pipeline/media), its bytes are checked as
// PostInputs checks bytes, and the template's concepts, metadata, geo and
// dataset IDs are copied onto it.
func (s *Server) prepareFile(tmpl *pb.Input, objURL, key string, b []byte, tooLarge, nested bool) prepared {
	p := prepared{key: key}
	switch {
	case nested:
		p.skip = skipNested
		return p
	case tooLarge:
		p.skip = skipTooLarge
		return p
	}
	head := b
	if len(head) > media.HeadSize {
		head = head[:media.HeadSize]
	}
	t, err := media.Detect(path.Base(key), head)
	if err != nil {
		p.skip = skipUnsupported
		return p
	}
	d := &pb.Data{}
	if td := tmpl.GetData(); td != nil {
		d = proto.Clone(td).(*pb.Data)
	}
	d.Image, d.Video, d.Audio, d.Text, d.Parts = nil, nil, nil, nil, nil
	switch t.Kind {
	case pipeline.KindImage:
		p.kind, d.Image = KindImage, &pb.Image{Base64: b}
	case pipeline.KindVideo:
		p.kind, d.Video = KindVideo, &pb.Video{Base64: b}
	case pipeline.KindAudio:
		p.kind, d.Audio = KindAudio, &pb.Audio{Base64: b}
	case pipeline.KindText:
		p.kind, d.Text = KindText, &pb.Text{Raw: string(b)}
	default:
		p.skip = skipUnsupported
		return p
	}
	var c dataCheck
	if st := checkData(d, "", 0, &c); st != nil {
		p.skip = skipInvalid
		if st.Code == statuspb.StatusCode_INPUT_OVER_LIMIT {
			p.skip = skipTooLarge
		}
		return p
	}
	blob, err := proto.Marshal(&pb.Input{Data: d, DatasetIds: tmpl.GetDatasetIds()})
	if err != nil {
		p.skip = skipInvalid
		return p
	}
	p.id = objectInputID(objURL, key, s.opts.MaxInputIDLength)
	p.blob, p.digests, p.fail = blob, c.digests, c.fail
	return p
}

// Input IDs of extracted files are deterministic: the same object (bucket,
// key, archive member) always gets the same ID, so that conflict resolution
// SKIP makes re-ingesting a prefix idempotent and SUFFIX makes "-1", "-2"...
// copies. An ID is a readable tail of the key, "-", and 12 hex digits of the
// SHA-256 of the object's URL; the tail is cut so that the ID and a SUFFIX
// suffix ("-" and up to 8 characters) fit the maximum ID length.
const (
	idHashLen       = 12
	idSuffixReserve = 9
)

// objectInputID returns the input ID of the object at objURL whose key (or
// archive key + "/" + member) is key.
func objectInputID(objURL, key string, maxLen int) string {
	sum := sha256.Sum256([]byte(objURL))
	h := hex.EncodeToString(sum[:])[:idHashLen]
	room := maxLen - idSuffixReserve - idHashLen - 1
	if room < 1 {
		return h[:min(len(h), max(1, maxLen))]
	}
	var sb strings.Builder
	under := false
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			sb.WriteByte(c)
			under = false
		} else if !under {
			sb.WriteByte('_')
			under = true
		}
	}
	tail := sb.String()
	if len(tail) > room {
		tail = tail[len(tail)-room:]
	}
	tail = strings.Trim(tail, "_-")
	if tail == "" {
		return h
	}
	return tail + "-" + h
}

// readFileLimit reads at most limit+1 bytes of the file at p, so that a
// caller can tell a file over limit from one at it.
func readFileLimit(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}
