package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/smithy-go"
)

func TestE2E_SigV4(t *testing.T) {
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.Region = "eu-west-1"
	m.Config.Auth = "sigv4"
	m.Config.Credentials = "AKIDGOOD:goodsecret"
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	withCreds := func(id, secret string) *kav2.Client {
		return kav2.New(kav2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(m.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	}
	if _, err := withCreds("AKIDGOOD", "goodsecret").ListApplications(sctx, &kav2.ListApplicationsInput{}); err != nil {
		t.Fatalf("signed request refused: %v", err)
	}
	for _, tt := range []struct{ id, secret, exception string }{
		{"AKIDGOOD", "wrong", "InvalidSignatureException"},
		{"AKIDBAD", "goodsecret", "UnrecognizedClientException"},
	} {
		_, err := withCreds(tt.id, tt.secret).ListApplications(sctx, &kav2.ListApplicationsInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.exception {
			t.Fatalf("%s/%s: %v, want %s", tt.id, tt.secret, err, tt.exception)
		}
	}
	// Unsigned: 403 with the AWS error body.
	req, _ := http.NewRequest("POST", m.URL()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.ListApplications")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"__type":"MissingAuthenticationTokenException"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
