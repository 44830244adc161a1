package emulator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testAWSSecret = "bin-aws-secret-do-not-leak"
	testAzureKey  = "bin-azure-key-do-not-leak"
)

func TestParseBuckets(t *testing.T) {
	dir := t.TempDir()
	gcpFile := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(gcpFile, []byte(`{"type":"service_account"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": "envid", "AWS_SECRET_ACCESS_KEY": "envsecret", "AZURE_STORAGE_ACCOUNT": "envacct", "AZURE_STORAGE_KEY": "envkey"}
	tests := []struct {
		name    string
		buckets []string
		creds   []string
		check   func(t *testing.T, b map[string]string, p map[string]struct{ id, secret, token, acct, key, gcp string })
		wantErr string
	}{
		{name: "buckets", buckets: []string{"s3://a=" + dir, "https://x.com/d.zip=/tmp/d.zip"},
			check: func(t *testing.T, b map[string]string, _ map[string]struct{ id, secret, token, acct, key, gcp string }) {
				if b["s3://a"] != dir || b["https://x.com/d.zip"] != "/tmp/d.zip" {
					t.Errorf("buckets %v", b)
				}
			}},
		{name: "aws with token", creds: []string{"s3://a=aws:ID:" + testAWSSecret + ":TOK"},
			check: func(t *testing.T, _ map[string]string, p map[string]struct{ id, secret, token, acct, key, gcp string }) {
				if c := p["s3://a"]; c.id != "ID" || c.secret != testAWSSecret || c.token != "TOK" {
					t.Errorf("aws %+v", c)
				}
			}},
		{name: "aws env", creds: []string{"s3://a=aws:env"},
			check: func(t *testing.T, _ map[string]string, p map[string]struct{ id, secret, token, acct, key, gcp string }) {
				if c := p["s3://a"]; c.id != "envid" || c.secret != "envsecret" {
					t.Errorf("aws env %+v", c)
				}
			}},
		{name: "azure and gcp", creds: []string{"https://acct.blob.core.windows.net/c=azure:acct:" + testAzureKey, "gs://g=gcp:" + gcpFile},
			check: func(t *testing.T, _ map[string]string, p map[string]struct{ id, secret, token, acct, key, gcp string }) {
				if c := p["https://acct.blob.core.windows.net/c"]; c.acct != "acct" || c.key != testAzureKey {
					t.Errorf("azure %+v", c)
				}
				if c := p["gs://g"]; c.gcp != `{"type":"service_account"}` {
					t.Errorf("gcp %+v", c)
				}
			}},
		{name: "azure env", creds: []string{"https://a.blob.core.windows.net/c=azure:env"},
			check: func(t *testing.T, _ map[string]string, p map[string]struct{ id, secret, token, acct, key, gcp string }) {
				if c := p["https://a.blob.core.windows.net/c"]; c.acct != "envacct" || c.key != "envkey" {
					t.Errorf("azure env %+v", c)
				}
			}},
		{name: "bucket without path", buckets: []string{"s3://a"}, wantErr: "want URL=PATH"},
		{name: "creds without spec", creds: []string{"s3://a"}, wantErr: "want URL=SPEC"},
		{name: "aws without secret", creds: []string{"s3://a=aws:" + testAWSSecret}, wantErr: "aws:KEYID:SECRET"},
		{name: "azure without key", creds: []string{"s3://a=azure:" + testAzureKey}, wantErr: "azure:ACCOUNT:KEY"},
		{name: "unknown provider", creds: []string{"s3://a=ftp:" + testAWSSecret}, wantErr: "aws, gcp or azure"},
		{name: "missing gcp file", creds: []string{"gs://g=gcp:" + filepath.Join(dir, "none.json")}, wantErr: "none.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, p, err := parseBuckets(tc.buckets, tc.creds, func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), testAWSSecret) || strings.Contains(err.Error(), testAzureKey) {
					t.Fatalf("the error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			flat := map[string]struct{ id, secret, token, acct, key, gcp string }{}
			for k, c := range p {
				flat[k] = struct{ id, secret, token, acct, key, gcp string }{c.AWSAccessKeyID, c.AWSSecretAccessKey, c.AWSSessionToken, c.AzureAccountName, c.AzureAccountKey, string(c.GCPServiceAccountJSON)}
			}
			tc.check(t, b, flat)
		})
	}
}
