package cloudjob

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	pb "github.com/ingestkit/clarifai-ingest/sinks/clarifai/api/clarifaipb"
	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/client"
)

// Credentials open private buckets. Each provider's part is used only for
// that provider's URLs (see ProviderOf) and sent only inside the
// PostInputsDataSources request. Every secret is a client.Secret: it
// prints as "[redacted]" with every fmt verb and in JSON, so a Credentials
// value can be logged by mistake without leaking.
type Credentials struct {
	AWS   *AWSCredentials
	GCP   *GCPCredentials
	Azure *AzureCredentials
}

// AWSCredentials are sent as s3_creds.
type AWSCredentials struct {
	// Region is the bucket's region; not secret.
	Region string
	// AccessKeyID, SecretAccessKey and SessionToken (optional) are the
	// access key, as the AWS SDKs read them.
	AccessKeyID, SecretAccessKey, SessionToken client.Secret
}

// GCPCredentials are sent as gcp_creds.
type GCPCredentials struct {
	// ServiceAccountJSON is the content of a service-account key file.
	ServiceAccountJSON client.Secret
}

// AzureCredentials are sent as azure_blob_creds.
type AzureCredentials struct {
	// AccountName is the storage account; not secret.
	AccountName string
	// AccountKey is one of the account's access keys.
	AccountKey client.Secret
}

// Format implements fmt.Formatter: only which providers are set is shown.
func (c Credentials) Format(f fmt.State, _ rune) {
	var set []string
	if c.AWS != nil {
		set = append(set, "aws")
	}
	if c.GCP != nil {
		set = append(set, "gcp")
	}
	if c.Azure != nil {
		set = append(set, "azure")
	}
	fmt.Fprintf(f, "cloudjob.Credentials{%s}", strings.Join(set, ", "))
}

// Provider is the storage service a URL belongs to.
type Provider uint8

// The providers. ProviderNone is any other URL (a public archive URL):
// no credentials are sent with it.
const (
	ProviderNone Provider = iota
	ProviderAWS
	ProviderGCP
	ProviderAzure
)

// ProviderOf returns the provider of a data source URL: s3:// is AWS,
// gs:// is GCP, https://ACCOUNT.blob.core.windows.net/... is Azure.
func ProviderOf(raw string) Provider {
	u, err := url.Parse(raw)
	if err != nil {
		return ProviderNone
	}
	switch {
	case u.Scheme == "s3":
		return ProviderAWS
	case u.Scheme == "gs":
		return ProviderGCP
	case (u.Scheme == "https" || u.Scheme == "http") && strings.HasSuffix(strings.ToLower(u.Hostname()), ".blob.core.windows.net"):
		return ProviderAzure
	}
	return ProviderNone
}

// proto returns the credentials to send with raw, or nil.
func (c Credentials) proto(raw string) *pb.DataSourceCredentials {
	switch ProviderOf(raw) {
	case ProviderAWS:
		if a := c.AWS; a != nil {
			return &pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_S3Creds{S3Creds: &pb.AWSCreds{
				Region: a.Region, Id: string(a.AccessKeyID), Secret: string(a.SecretAccessKey), Token: string(a.SessionToken),
			}}}
		}
	case ProviderGCP:
		if g := c.GCP; g != nil {
			return &pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_GcpCreds{GcpCreds: []byte(g.ServiceAccountJSON)}}
		}
	case ProviderAzure:
		if z := c.Azure; z != nil {
			return &pb.DataSourceCredentials{Credentials: &pb.DataSourceCredentials_AzureBlobCreds{AzureBlobCreds: &pb.AzureBlobCreds{
				AccountName: z.AccountName, AccountKey: string(z.AccountKey),
			}}}
		}
	}
	return nil
}

// Environment variables read by CredentialSources.Resolve, as the providers'
// own tools name them.
const (
	EnvAWSAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvAWSSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvAWSSessionToken    = "AWS_SESSION_TOKEN"
	EnvAWSRegion          = "AWS_REGION"
	EnvAWSDefaultRegion   = "AWS_DEFAULT_REGION"
	EnvAWSProfile         = "AWS_PROFILE"
	EnvAWSCredentialsFile = "AWS_SHARED_CREDENTIALS_FILE"
	EnvAWSConfigFile      = "AWS_CONFIG_FILE"
	EnvGCPCredentials     = "GOOGLE_APPLICATION_CREDENTIALS"
	EnvAzureAccount       = "AZURE_STORAGE_ACCOUNT"
	EnvAzureKey           = "AZURE_STORAGE_KEY"
)

// CredentialSources says where credentials come from. Explicit fields (flags,
// the job file) win over the environment, which wins over the AWS shared
// files.
//
// AWS: key ID, secret and session token from the fields, else
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the
// profile (AWSProfile, else AWS_PROFILE, else "default") of the shared
// credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials).
// Region from AWSRegion, else AWS_REGION, else AWS_DEFAULT_REGION, else the
// profile's region in the config file (AWS_CONFIG_FILE, else ~/.aws/config).
//
// GCP: the service-account key file GCPServiceAccountFile, else
// GOOGLE_APPLICATION_CREDENTIALS; its content is sent.
//
// Azure: AzureAccountName and AzureAccountKey, else AZURE_STORAGE_ACCOUNT
// and AZURE_STORAGE_KEY.
type CredentialSources struct {
	AWSRegion, AWSProfile                               string
	AWSAccessKeyID, AWSSecretAccessKey, AWSSessionToken client.Secret
	GCPServiceAccountFile                               string
	AzureAccountName                                    string
	AzureAccountKey                                     client.Secret
	// Getenv reads the environment. Nil means os.Getenv.
	Getenv func(string) string
	// ReadFile reads files. Nil means os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Resolve finds the credentials of the providers the URLs need; a provider
// with nothing configured is left nil (a public bucket). It returns an error
// for half a credential (a key ID without a secret, a key without an
// account name) or an unreadable or malformed key file. Errors never
// contain a secret.
func (cs CredentialSources) Resolve(urls ...string) (Credentials, error) {
	if cs.Getenv == nil {
		cs.Getenv = os.Getenv
	}
	if cs.ReadFile == nil {
		cs.ReadFile = os.ReadFile
	}
	need := map[Provider]bool{}
	for _, u := range urls {
		need[ProviderOf(u)] = true
	}
	var c Credentials
	var errs []error
	if need[ProviderAWS] {
		a, err := cs.aws()
		c.AWS = a
		errs = append(errs, err)
	}
	if need[ProviderGCP] {
		g, err := cs.gcp()
		c.GCP = g
		errs = append(errs, err)
	}
	if need[ProviderAzure] {
		z, err := cs.azure()
		c.Azure = z
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

func (cs CredentialSources) aws() (*AWSCredentials, error) {
	id, secret, token := cs.AWSAccessKeyID, cs.AWSSecretAccessKey, cs.AWSSessionToken
	if id == "" && secret == "" {
		id, secret, token = client.Secret(cs.Getenv(EnvAWSAccessKeyID)), client.Secret(cs.Getenv(EnvAWSSecretAccessKey)), client.Secret(cs.Getenv(EnvAWSSessionToken))
	}
	profile := firstOf(cs.AWSProfile, cs.Getenv(EnvAWSProfile), "default")
	if id == "" && secret == "" {
		path := firstOf(cs.Getenv(EnvAWSCredentialsFile), cs.home(".aws", "credentials"))
		if sec, err := cs.iniSection(path, profile); err != nil {
			return nil, fmt.Errorf("AWS shared credentials file %s: %w", path, err)
		} else if sec != nil {
			id, secret, token = client.Secret(sec["aws_access_key_id"]), client.Secret(sec["aws_secret_access_key"]), client.Secret(sec["aws_session_token"])
		}
	}
	switch {
	case id == "" && secret == "":
		return nil, nil
	case id == "" || secret == "":
		return nil, errors.New("AWS credentials are incomplete: set both the access key ID and the secret access key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	region := firstOf(cs.AWSRegion, cs.Getenv(EnvAWSRegion), cs.Getenv(EnvAWSDefaultRegion))
	if region == "" {
		path := firstOf(cs.Getenv(EnvAWSConfigFile), cs.home(".aws", "config"))
		name := "profile " + profile
		if profile == "default" {
			name = "default"
		}
		if sec, err := cs.iniSection(path, name); err != nil {
			return nil, fmt.Errorf("AWS config file %s: %w", path, err)
		} else if sec != nil {
			region = sec["region"]
		}
	}
	return &AWSCredentials{Region: region, AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}, nil
}

func (cs CredentialSources) gcp() (*GCPCredentials, error) {
	path := firstOf(cs.GCPServiceAccountFile, cs.Getenv(EnvGCPCredentials))
	if path == "" {
		return nil, nil
	}
	b, err := cs.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GCP service account file: %w", err)
	}
	var probe map[string]any
	if err := json.Unmarshal(b, &probe); err != nil {
		// The decoder's message may quote the file; say only where.
		return nil, fmt.Errorf("GCP service account file %s is not a JSON object", path)
	}
	return &GCPCredentials{ServiceAccountJSON: client.Secret(b)}, nil
}

func (cs CredentialSources) azure() (*AzureCredentials, error) {
	name, key := cs.AzureAccountName, cs.AzureAccountKey
	if name == "" {
		name = cs.Getenv(EnvAzureAccount)
	}
	if key == "" {
		key = client.Secret(cs.Getenv(EnvAzureKey))
	}
	switch {
	case key == "":
		return nil, nil
	case name == "":
		return nil, errors.New("Azure credentials are incomplete: an account key is set but no account name (AZURE_STORAGE_ACCOUNT)")
	}
	return &AzureCredentials{AccountName: name, AccountKey: key}, nil
}

// home joins parts under the user's home folder, or returns "".
func (cs CredentialSources) home(parts ...string) string {
	h := firstOf(cs.Getenv("HOME"), cs.Getenv("USERPROFILE"))
	if h == "" {
		return ""
	}
	return filepath.Join(append([]string{h}, parts...)...)
}

// iniSection returns the keys of section name of the INI file at path, or
// nil when the file or the section does not exist. Errors never quote the
// file's content.
func (cs CredentialSources) iniSection(path, name string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := cs.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out map[string]string
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			in = strings.TrimSpace(line[1:len(line)-1]) == name
			if in && out == nil {
				out = map[string]string{}
			}
		case in:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
	}
	return out, sc.Err()
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
