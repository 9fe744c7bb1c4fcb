package model

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
)

// TestSDK_RoundTrip drives every operation through the AWS SDK for Go v2
// client against a server built on this package: the SDK's serialized
// request of a complete input must pass Validate and decode, and the SDK
// must parse our encoding of a complete output (every member present,
// timestamps as numbers, blobs in base64).
func TestSDK_RoundTrip(t *testing.T) {
	s, err := loadSchema()
	if err != nil {
		t.Fatal(err)
	}
	var serverErr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix+".")
		body, _ := io.ReadAll(r.Body)
		in := NewInput(op)
		if err := DecodeInput(op, body, in); err != nil {
			serverErr = fmt.Errorf("%s: SDK request %s: %v", op, body, err)
			w.WriteHeader(500)
			return
		}
		o, _ := LookupOperation(op)
		outJSON, _ := json.Marshal(sample(t, s.shapes[o.Output], true))
		out := NewOutput(op)
		if err := json.Unmarshal(outJSON, out); err != nil {
			serverErr = fmt.Errorf("%s: decode sample output: %v", op, err)
			w.WriteHeader(500)
			return
		}
		resp, _ := json.Marshal(out)
		if err := ValidateOutput(op, resp); err != nil {
			serverErr = fmt.Errorf("%s: ValidateOutput(%s): %v", op, resp, err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write(resp)
	}))
	defer srv.Close()

	client := kinesisanalyticsv2.New(kinesisanalyticsv2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
		}),
		// Retries cover a transport hiccup of the loaded test machine; the
		// shapes are checked on the answer that arrives.
		RetryMaxAttempts: 3,
	})
	for _, op := range Operations() {
		t.Run(op.Name, func(t *testing.T) {
			serverErr = nil
			method := reflect.ValueOf(client).MethodByName(op.Name)
			if !method.IsValid() {
				t.Fatalf("the SDK has no method %s", op.Name)
			}
			in := reflect.New(method.Type().In(1).Elem())
			raw, _ := json.Marshal(sample(t, s.ops[op.Name], true))
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			var j any
			if err := dec.Decode(&j); err != nil {
				t.Fatal(err)
			}
			if err := fillSDK(t, in.Elem(), j, op.Name); err != nil {
				t.Fatal(err)
			}
			res := method.Call([]reflect.Value{reflect.ValueOf(context.Background()), in})
			if serverErr != nil {
				t.Fatal(serverErr)
			}
			if err, _ := res[1].Interface().(error); err != nil {
				t.Fatalf("SDK: %v", err)
			}
			// What the SDK parsed must be what we sent.
			want, _ := json.Marshal(sample(t, s.shapes[op.Output], true))
			dec = json.NewDecoder(bytes.NewReader(want))
			dec.UseNumber()
			var wj any
			if err := dec.Decode(&wj); err != nil {
				t.Fatal(err)
			}
			if err := compareSDK(t, res[0].Elem(), wj, op.Output); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// fillSDK sets the SDK struct v from the JSON value j, matching members by
// name. Members the SDK does not have (newer than its model) are skipped.
func fillSDK(t *testing.T, v reflect.Value, j any, path string) error {
	if j == nil {
		return nil
	}
	if v.Type() == reflect.TypeOf(time.Time{}) {
		ts, err := ParseEpochSeconds(string(j.(json.Number)))
		v.Set(reflect.ValueOf(ts))
		return err
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := fillSDK(t, p.Elem(), j, path); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Struct:
		for k, jv := range j.(map[string]any) {
			f := v.FieldByName(k)
			if !f.IsValid() {
				t.Logf("%s.%s: not in the SDK's model, skipped", path, k)
				continue
			}
			if err := fillSDK(t, f, jv, path+"."+k); err != nil {
				return err
			}
		}
	case reflect.String:
		v.SetString(j.(string))
	case reflect.Bool:
		v.SetBool(j.(bool))
	case reflect.Int32, reflect.Int64:
		n, err := j.(json.Number).Int64()
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := j.(json.Number).Float64()
		if err != nil {
			return err
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b, err := base64.StdEncoding.DecodeString(j.(string))
			v.SetBytes(b)
			return err
		}
		list := j.([]any)
		sl := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			if err := fillSDK(t, sl.Index(i), e, path); err != nil {
				return err
			}
		}
		v.Set(sl)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for k, e := range j.(map[string]any) {
			ev := reflect.New(v.Type().Elem()).Elem()
			if err := fillSDK(t, ev, e, path); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	default:
		return fmt.Errorf("%s: unsupported SDK kind %s", path, v.Kind())
	}
	return nil
}

// compareSDK checks that the SDK value v holds the JSON value j.
func compareSDK(t *testing.T, v reflect.Value, j any, path string) error {
	if v.Type() == reflect.TypeOf(time.Time{}) {
		want, err := ParseEpochSeconds(string(j.(json.Number)))
		if err != nil {
			return err
		}
		if got := v.Interface().(time.Time); !got.Equal(want) {
			return fmt.Errorf("%s = %v, want %v", path, got, want)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return fmt.Errorf("%s: nil in the SDK's output", path)
		}
		return compareSDK(t, v.Elem(), j, path)
	case reflect.Struct:
		for k, jv := range j.(map[string]any) {
			f := v.FieldByName(k)
			if !f.IsValid() {
				t.Logf("%s.%s: not in the SDK's model, skipped", path, k)
				continue
			}
			if err := compareSDK(t, f, jv, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if got := base64.StdEncoding.EncodeToString(v.Bytes()); got != j.(string) {
				return fmt.Errorf("%s = %s, want %s", path, got, j)
			}
			return nil
		}
		list := j.([]any)
		if v.Len() != len(list) {
			return fmt.Errorf("%s: %d elements, want %d", path, v.Len(), len(list))
		}
		for i, e := range list {
			if err := compareSDK(t, v.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		m := j.(map[string]any)
		if v.Len() != len(m) {
			return fmt.Errorf("%s: %d entries, want %d", path, v.Len(), len(m))
		}
		for k, e := range m {
			ev := v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))
			if !ev.IsValid() {
				return fmt.Errorf("%s: no key %q", path, k)
			}
			if err := compareSDK(t, ev, e, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	}
	got := fmt.Sprint(v.Interface())
	if want := fmt.Sprint(j); got != want {
		return fmt.Errorf("%s = %s, want %s", path, got, want)
	}
	return nil
}
