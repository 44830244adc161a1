package cloudjob_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ingestkit/clarifai-ingest/sinks/clarifai/cloudjob"
)

func TestProviderOf(t *testing.T) {
	tests := []struct {
		url  string
		want cloudjob.Provider
	}{
		{"s3://b/x", cloudjob.ProviderAWS},
		{"gs://b/x", cloudjob.ProviderGCP},
		{"https://acct.blob.core.windows.net/c/x", cloudjob.ProviderAzure},
		{"https://ACCT.Blob.Core.Windows.Net/c", cloudjob.ProviderAzure},
		{"https://example.com/data.zip", cloudjob.ProviderNone},
		{"::", cloudjob.ProviderNone},
	}
	for _, tc := range tests {
		if got := cloudjob.ProviderOf(tc.url); got != tc.want {
			t.Errorf("ProviderOf(%q) = %v, want %v", tc.url, got, tc.want)
		}
	}
}

func TestResolveCredentials(t *testing.T) {
	files := map[string]string{
		"/home/u/.aws/credentials": "[default]\naws_access_key_id = FILEID\naws_secret_access_key = filesecret\n\n[work]\naws_access_key_id=WORKID\naws_secret_access_key=worksecret\naws_session_token=worktoken\n",
		"/home/u/.aws/config":      "[default]\nregion = eu-west-1\n[profile work]\nregion=ap-south-1\n",
		"/keys/sa.json":            `{"type":"service_account","private_key":"pk"}`,
		"/keys/bad.json":           `not json at all, with pk-secret inside`,
		"/other/credentials":       "[default]\naws_access_key_id = OTHERID\naws_secret_access_key = othersecret\n",
	}
	readFile := func(p string) ([]byte, error) {
		if b, ok := files[p]; ok {
			return []byte(b), nil
		}
		return nil, fmt.Errorf("open %s: %w", p, os.ErrNotExist)
	}
	type want struct {
		aws               *[4]string // region, id, secret, token
		gcp               string
		azureName, azureK string
		err               string
	}
	tests := []struct {
		name string
		src  cloudjob.CredentialSources
		env  map[string]string
		urls []string
		want want
	}{
		{"aws from env", cloudjob.CredentialSources{}, map[string]string{"AWS_ACCESS_KEY_ID": "ENVID", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "tok", "AWS_REGION": "us-east-2", "HOME": "/home/u"},
			[]string{"s3://b"}, want{aws: &[4]string{"us-east-2", "ENVID", "envsecret", "tok"}}},
		{"aws default region", cloudjob.CredentialSources{}, map[string]string{"AWS_ACCESS_KEY_ID": "ENVID", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_DEFAULT_REGION": "us-west-1"},
			[]string{"s3://b"}, want{aws: &[4]string{"us-west-1", "ENVID", "envsecret", ""}}},
		{"explicit wins over env", cloudjob.CredentialSources{AWSAccessKeyID: "FLAGID", AWSSecretAccessKey: "flagsecret", AWSRegion: "r1"},
			map[string]string{"AWS_ACCESS_KEY_ID": "ENVID", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_REGION": "r2"},
			[]string{"s3://b"}, want{aws: &[4]string{"r1", "FLAGID", "flagsecret", ""}}},
		{"aws shared files, default profile", cloudjob.CredentialSources{}, map[string]string{"HOME": "/home/u"},
			[]string{"s3://b"}, want{aws: &[4]string{"eu-west-1", "FILEID", "filesecret", ""}}},
		{"aws shared files, AWS_PROFILE", cloudjob.CredentialSources{}, map[string]string{"HOME": "/home/u", "AWS_PROFILE": "work"},
			[]string{"s3://b"}, want{aws: &[4]string{"ap-south-1", "WORKID", "worksecret", "worktoken"}}},
		{"aws shared files, explicit profile and file", cloudjob.CredentialSources{AWSProfile: "default"},
			map[string]string{"HOME": "/home/u", "AWS_PROFILE": "work", "AWS_SHARED_CREDENTIALS_FILE": "/other/credentials"},
			[]string{"s3://b"}, want{aws: &[4]string{"eu-west-1", "OTHERID", "othersecret", ""}}},
		{"aws nothing: public", cloudjob.CredentialSources{}, map[string]string{"HOME": "/nowhere"}, []string{"s3://b"}, want{}},
		{"aws half", cloudjob.CredentialSources{}, map[string]string{"AWS_ACCESS_KEY_ID": "ENVID"}, []string{"s3://b"}, want{err: "incomplete"}},
		{"gcp from env", cloudjob.CredentialSources{}, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/keys/sa.json"},
			[]string{"gs://b"}, want{gcp: files["/keys/sa.json"]}},
		{"gcp explicit file", cloudjob.CredentialSources{GCPServiceAccountFile: "/keys/sa.json"}, map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/keys/bad.json"},
			[]string{"gs://b"}, want{gcp: files["/keys/sa.json"]}},
		{"gcp not json", cloudjob.CredentialSources{GCPServiceAccountFile: "/keys/bad.json"}, nil, []string{"gs://b"}, want{err: "not a JSON object"}},
		{"gcp missing file", cloudjob.CredentialSources{GCPServiceAccountFile: "/keys/none.json"}, nil, []string{"gs://b"}, want{err: "none.json"}},
		{"azure from env", cloudjob.CredentialSources{}, map[string]string{"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": "k1"},
			[]string{"https://acct.blob.core.windows.net/c"}, want{azureName: "acct", azureK: "k1"}},
		{"azure explicit name, env key", cloudjob.CredentialSources{AzureAccountName: "mine"}, map[string]string{"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": "k1"},
			[]string{"https://mine.blob.core.windows.net/c"}, want{azureName: "mine", azureK: "k1"}},
		{"azure key without name", cloudjob.CredentialSources{}, map[string]string{"AZURE_STORAGE_KEY": "k1"},
			[]string{"https://acct.blob.core.windows.net/c"}, want{err: "no account name"}},
		{"only the providers needed", cloudjob.CredentialSources{GCPServiceAccountFile: "/keys/bad.json"}, map[string]string{"AWS_ACCESS_KEY_ID": "half"},
			[]string{"https://example.com/a.zip"}, want{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			src.Getenv = func(k string) string { return tc.env[k] }
			src.ReadFile = readFile
			c, err := src.Resolve(tc.urls...)
			if tc.want.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want.err) {
					t.Fatalf("err %v, want %q", err, tc.want.err)
				}
				for _, secret := range []string{"pk-secret", "envsecret", "k1"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("the error shows a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want.aws == nil && c.AWS != nil:
				t.Errorf("AWS set: %v", c)
			case tc.want.aws != nil && (c.AWS == nil || [4]string{c.AWS.Region, string(c.AWS.AccessKeyID), string(c.AWS.SecretAccessKey), string(c.AWS.SessionToken)} != *tc.want.aws):
				t.Errorf("AWS %+v, want %v", c.AWS, *tc.want.aws)
			}
			if got := ""; c.GCP != nil {
				got = string(c.GCP.ServiceAccountJSON)
				if got != tc.want.gcp {
					t.Errorf("GCP wrong")
				}
			} else if tc.want.gcp != "" {
				t.Errorf("GCP not set")
			}
			if (c.Azure != nil) != (tc.want.azureName != "") || c.Azure != nil && (c.Azure.AccountName != tc.want.azureName || string(c.Azure.AccountKey) != tc.want.azureK) {
				t.Errorf("Azure %v, want %s", c.Azure, tc.want.azureName)
			}
		})
	}
}

// TestCredentialsNeverPrint formats credentials every way a careless log
// line might, and finds no secret.
func TestCredentialsNeverPrint(t *testing.T) {
	c := cloudjob.Credentials{
		AWS:   &cloudjob.AWSCredentials{Region: "r", AccessKeyID: awsID, SecretAccessKey: awsSecret, SessionToken: "tok-secret"},
		GCP:   &cloudjob.GCPCredentials{ServiceAccountJSON: `{"private_key":"gcp-secret"}`},
		Azure: &cloudjob.AzureCredentials{AccountName: "acct", AccountKey: "azure-secret"},
	}
	spec := cloudjob.Spec{URLs: []string{"s3://b"}, Credentials: c}
	j1, _ := json.Marshal(c)
	j2, _ := json.Marshal(c.AWS)
	j3, _ := json.Marshal(spec)
	out := strings.Join([]string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c),
		fmt.Sprintf("%v %+v %#v", *c.AWS, *c.GCP, *c.Azure), fmt.Sprintf("%+v %#v", spec, spec),
		string(j1), string(j2), string(j3),
	}, "\n")
	for _, secret := range []string{awsSecret, "tok-secret", "gcp-secret", "azure-secret"} {
		if strings.Contains(out, secret) {
			t.Fatalf("%q printed:\n%s", secret, out)
		}
	}
	if !strings.Contains(fmt.Sprint(c), "aws, gcp, azure") {
		t.Errorf("Credentials print as %q", fmt.Sprint(c))
	}
}
