package cloudwatch_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/cloudwatch"
	"github.com/flinkplane/flinkplane/sqlite"
)

var ctx = context.Background()

// now is "now" for the server; the data lie in the hour before it.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
var base = now.Add(-time.Hour)

// newServer serves a store holding, for application "app", numRestarts
// sampled 4 times a minute for 10 minutes with value = minute index, and
// cpuUtilization with two samples (two TaskManagers) per reading.
func newServer(t *testing.T, verifier *sigv4.Verifier) (*httptest.Server, *sqlite.DB) {
	t.Helper()
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	app := []flinkplane.Dimension{{Name: "Application", Value: "app"}}
	var data []flinkplane.MetricDatum
	for m := 0; m < 10; m++ {
		for q := 0; q < 4; q++ {
			at := base.Add(time.Duration(m)*time.Minute + time.Duration(q)*15*time.Second)
			data = append(data,
				flinkplane.MetricDatum{Name: "numRestarts", Dimensions: app, Unit: flinkplane.UnitCount, Value: float64(m), Time: at},
				flinkplane.MetricDatum{Name: "cpuUtilization", Dimensions: app, Unit: flinkplane.UnitPercent, Value: 10, Time: at},
				flinkplane.MetricDatum{Name: "cpuUtilization", Dimensions: app, Unit: flinkplane.UnitPercent, Value: 30, Time: at})
		}
	}
	data = append(data, flinkplane.MetricDatum{Name: "numRecordsInPerSecond", Unit: flinkplane.UnitCountPerSecond, Value: 5, Time: base,
		Dimensions: []flinkplane.Dimension{{Name: "Application", Value: "app"}, {Name: "Task", Value: "Source: numbers"}}})
	if err := db.PutMetrics(ctx, "app", nil, data); err != nil {
		t.Fatal(err)
	}
	s := cloudwatch.New(db)
	s.Now = func() time.Time { return now }
	s.Verifier = verifier
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, db
}

func sdkClient(url string) *cw.Client {
	return cw.New(cw.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
}

// The AWS SDK for Go v2 speaks RPC v2 CBOR to CloudWatch.
func TestSDK_CBOR(t *testing.T) {
	srv, _ := newServer(t, nil)
	c := sdkClient(srv.URL)
	out, err := c.GetMetricStatistics(ctx, &cw.GetMetricStatisticsInput{
		Namespace: aws.String("AWS/KinesisAnalytics"), MetricName: aws.String("numRestarts"),
		Dimensions: []types.Dimension{{Name: aws.String("Application"), Value: aws.String("app")}},
		StartTime:  aws.Time(base.Add(30 * time.Second)), EndTime: aws.Time(base.Add(10 * time.Minute)), Period: aws.Int32(300),
		Statistics: []types.Statistic{types.StatisticMaximum, types.StatisticAverage, types.StatisticSampleCount, types.StatisticSum, types.StatisticMinimum},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The start rounds down to the minute: periods [0,5) and [5,10).
	if aws.ToString(out.Label) != "numRestarts" || len(out.Datapoints) != 2 {
		t.Fatalf("got %+v", out)
	}
	for i, dp := range out.Datapoints {
		first := float64(5 * i)
		if !aws.ToTime(dp.Timestamp).Equal(base.Add(time.Duration(5*i)*time.Minute)) || aws.ToFloat64(dp.SampleCount) != 20 ||
			aws.ToFloat64(dp.Minimum) != first || aws.ToFloat64(dp.Maximum) != first+4 || aws.ToFloat64(dp.Sum) != 4*(5*first+10) ||
			aws.ToFloat64(dp.Average) != first+2 || dp.Unit != types.StandardUnitCount {
			t.Errorf("datapoint %d = %+v", i, dp)
		}
	}

	data, err := c.GetMetricData(ctx, &cw.GetMetricDataInput{
		StartTime: aws.Time(base), EndTime: aws.Time(base.Add(3 * time.Minute)),
		MetricDataQueries: []types.MetricDataQuery{
			{Id: aws.String("cpu"), MetricStat: &types.MetricStat{Stat: aws.String("Average"), Period: aws.Int32(60),
				Metric: &types.Metric{Namespace: aws.String("AWS/KinesisAnalytics"), MetricName: aws.String("cpuUtilization"),
					Dimensions: []types.Dimension{{Name: aws.String("Application"), Value: aws.String("app")}}}}},
			{Id: aws.String("r"), Label: aws.String("restarts"), MetricStat: &types.MetricStat{Stat: aws.String("Maximum"), Period: aws.Int32(60),
				Metric: &types.Metric{Namespace: aws.String("AWS/KinesisAnalytics"), MetricName: aws.String("numRestarts"),
					Dimensions: []types.Dimension{{Name: aws.String("Application"), Value: aws.String("app")}}}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(data.MetricDataResults) != 2 {
		t.Fatalf("results %+v", data.MetricDataResults)
	}
	cpu, r := data.MetricDataResults[0], data.MetricDataResults[1]
	if aws.ToString(cpu.Label) != "cpuUtilization" || len(cpu.Values) != 3 || cpu.Values[0] != 20 || cpu.StatusCode != types.StatusCodeComplete {
		t.Errorf("cpu = %+v", cpu)
	}
	// Newest first by default.
	if aws.ToString(r.Label) != "restarts" || len(r.Values) != 3 || r.Values[0] != 2 || r.Values[2] != 0 || !r.Timestamps[0].Equal(base.Add(2*time.Minute)) {
		t.Errorf("restarts = %+v", r)
	}

	list, err := c.ListMetrics(ctx, &cw.ListMetricsInput{Namespace: aws.String("AWS/KinesisAnalytics"),
		Dimensions: []types.DimensionFilter{{Name: aws.String("Application"), Value: aws.String("app")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Metrics) != 3 || aws.ToString(list.Metrics[0].MetricName) != "cpuUtilization" || len(list.Metrics[1].Dimensions) != 2 {
		t.Errorf("list = %+v", list.Metrics)
	}

	// Errors: modeled, with the query code the SDK reports.
	_, err = c.GetMetricStatistics(ctx, &cw.GetMetricStatisticsInput{
		Namespace: aws.String("AWS/KinesisAnalytics"), MetricName: aws.String("numRestarts"),
		StartTime: aws.Time(base), EndTime: aws.Time(base.Add(time.Hour)), Period: aws.Int32(61),
		Statistics: []types.Statistic{types.StatisticMaximum},
	})
	var ipv *types.InvalidParameterValueException
	if !errors.As(err, &ipv) || ipv.ErrorCode() != "InvalidParameterValue" || !strings.Contains(ipv.ErrorMessage(), "multiple of 60") {
		t.Errorf("bad period: %v", err)
	}
	_, err = c.GetMetricStatistics(ctx, &cw.GetMetricStatisticsInput{
		Namespace: aws.String("AWS/KinesisAnalytics"), MetricName: aws.String("numRestarts"),
		StartTime: aws.Time(base.Add(-72 * time.Hour)), EndTime: aws.Time(base), Period: aws.Int32(60),
		Statistics: []types.Statistic{types.StatisticMaximum},
	})
	var ipc *types.InvalidParameterCombinationException
	if !errors.As(err, &ipc) || !strings.Contains(ipc.ErrorMessage(), "exceeds the limit of 1440") {
		t.Errorf("too many datapoints: %v", err)
	}
	_, err = c.GetMetricData(ctx, &cw.GetMetricDataInput{StartTime: aws.Time(base), EndTime: aws.Time(now),
		MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("e"), Expression: aws.String("SUM(METRICS())")}}})
	if !errors.As(err, &ipv) || !strings.Contains(ipv.ErrorMessage(), "metric math") {
		t.Errorf("expression: %v", err)
	}
}

// GetMetricData pages by MaxDatapoints with a NextToken.
func TestSDK_GetMetricDataPages(t *testing.T) {
	srv, _ := newServer(t, nil)
	c := sdkClient(srv.URL)
	q := types.MetricDataQuery{Id: aws.String("r"), MetricStat: &types.MetricStat{Stat: aws.String("SampleCount"), Period: aws.Int32(60),
		Metric: &types.Metric{Namespace: aws.String("AWS/KinesisAnalytics"), MetricName: aws.String("numRestarts"),
			Dimensions: []types.Dimension{{Name: aws.String("Application"), Value: aws.String("app")}}}}}
	p := cw.NewGetMetricDataPaginator(c, &cw.GetMetricDataInput{StartTime: aws.Time(base), EndTime: aws.Time(now),
		MetricDataQueries: []types.MetricDataQuery{q}, MaxDatapoints: aws.Int32(4), ScanBy: types.ScanByTimestampAscending})
	var ts []time.Time
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range out.MetricDataResults {
			ts = append(ts, r.Timestamps...)
		}
	}
	if pages != 3 || len(ts) != 10 || !ts[0].Equal(base) || !ts[9].Equal(base.Add(9*time.Minute)) {
		t.Fatalf("%d pages, timestamps %v", pages, ts)
	}
}

// SigV4 with the signing name "monitoring": a wrong secret is refused
// with the SDK's error code.
func TestSDK_SigV4(t *testing.T) {
	v := sigv4.New(map[string]string{"AKID": "SECRET"}, "us-east-1")
	v.Service = "monitoring"
	srv, _ := newServer(t, v)
	in := &cw.ListMetricsInput{}
	if _, err := sdkClient(srv.URL).ListMetrics(ctx, in); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	bad := cw.New(cw.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "WRONG", "")})
	_, err := bad.ListMetrics(ctx, in)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v", err)
	}
}

func post(t *testing.T, url string, hdr map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// AWS JSON 1.0: timestamps are epoch seconds; errors carry __type and the
// query error header.
func TestJSONProtocol(t *testing.T) {
	srv, _ := newServer(t, nil)
	hdr := map[string]string{"X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics", "Content-Type": "application/x-amz-json-1.0"}
	body := `{"Namespace":"AWS/KinesisAnalytics","MetricName":"numRestarts","Dimensions":[{"Name":"Application","Value":"app"}],` +
		`"StartTime":` + jsonTime(base) + `,"EndTime":` + jsonTime(base.Add(2*time.Minute)) + `,"Period":60,"Statistics":["Maximum"]}`
	resp, b := post(t, srv.URL, hdr, body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var out struct {
		Label      string
		Datapoints []map[string]any
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Datapoints) != 2 || out.Datapoints[1]["Timestamp"] != float64(base.Add(time.Minute).Unix()) || out.Datapoints[1]["Maximum"] != 1.0 {
		t.Fatalf("%s", b)
	}
	if _, ok := out.Datapoints[0]["Sum"]; ok {
		t.Errorf("unrequested statistic in %s", b)
	}
	// Missing required member.
	resp, b = post(t, srv.URL, hdr, `{"Namespace":"AWS/KinesisAnalytics"}`)
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Query-Error") != "MissingParameter;Sender" ||
		!strings.Contains(string(b), `"__type":"com.amazonaws.cloudwatch#MissingRequiredParameterException"`) {
		t.Fatalf("missing parameter: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	// Unknown operation.
	hdr["X-Amz-Target"] = "GraniteServiceVersion20100801.PutMetricAlarm"
	resp, b = post(t, srv.URL, hdr, `{}`)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "UnknownOperationException") {
		t.Fatalf("unknown operation: %d %s", resp.StatusCode, b)
	}
}

func jsonTime(t time.Time) string { b, _ := json.Marshal(t.Unix()); return string(b) }

// The query protocol: form-encoded requests, XML responses and errors.
func TestQueryProtocol(t *testing.T) {
	srv, _ := newServer(t, nil)
	form := url.Values{"Action": {"GetMetricStatistics"}, "Version": {"2010-08-01"}, "Namespace": {"AWS/KinesisAnalytics"},
		"MetricName": {"cpuUtilization"}, "Dimensions.member.1.Name": {"Application"}, "Dimensions.member.1.Value": {"app"},
		"StartTime": {base.Format(time.RFC3339)}, "EndTime": {base.Add(time.Minute).Format(time.RFC3339)}, "Period": {"60"},
		"Statistics.member.1": {"Maximum"}, "Statistics.member.2": {"SampleCount"}}
	resp, b := post(t, srv.URL, map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, form.Encode())
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var out struct {
		Result struct {
			Label      string `xml:"Label"`
			Datapoints []struct {
				Timestamp   string  `xml:"Timestamp"`
				Maximum     float64 `xml:"Maximum"`
				SampleCount float64 `xml:"SampleCount"`
				Unit        string  `xml:"Unit"`
			} `xml:"Datapoints>member"`
		} `xml:"GetMetricStatisticsResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(b, &out); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if out.Result.Label != "cpuUtilization" || len(out.Result.Datapoints) != 1 || out.Result.Datapoints[0].Maximum != 30 ||
		out.Result.Datapoints[0].SampleCount != 8 || out.Result.Datapoints[0].Unit != "Percent" ||
		out.Result.Datapoints[0].Timestamp != base.Format(time.RFC3339) || out.RequestID == "" {
		t.Fatalf("%+v\n%s", out, b)
	}
	form.Set("Period", "7")
	resp, b = post(t, srv.URL, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
	var e struct {
		Error struct{ Type, Code, Message string } `xml:"Error"`
	}
	xml.Unmarshal(b, &e)
	if resp.StatusCode != 400 || e.Error.Code != "InvalidParameterValue" || e.Error.Type != "Sender" {
		t.Fatalf("bad period: %d %s", resp.StatusCode, b)
	}
	resp, b = post(t, srv.URL+"/?Action=DescribeAlarms&Version=2010-08-01", nil, "")
	xml.Unmarshal(b, &e)
	if resp.StatusCode != 400 || e.Error.Code != "InvalidAction" {
		t.Fatalf("unknown action: %d %s", resp.StatusCode, b)
	}
}

// Matches routes by request shape and leaves the kinesisanalyticsv2 API
// alone.
func TestMatches(t *testing.T) {
	req := func(method, target, path, ctype string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		if target != "" {
			r.Header.Set("X-Amz-Target", target)
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		return r
	}
	for _, c := range []struct {
		r    *http.Request
		want bool
	}{
		{req("POST", "GraniteServiceVersion20100801.ListMetrics", "/", "application/x-amz-json-1.0"), true},
		{req("POST", "", "/service/GraniteServiceVersion20100801/operation/ListMetrics", "application/cbor"), true},
		{req("POST", "", "/", "application/x-www-form-urlencoded; charset=utf-8"), true},
		{req("GET", "", "/?Action=ListMetrics&Version=2010-08-01", ""), true},
		{req("POST", "KinesisAnalytics_20180523.ListApplications", "/", "application/x-amz-json-1.1"), false},
		{req("POST", "Logs_20140328.GetLogEvents", "/", "application/x-amz-json-1.1"), false},
		{req("GET", "", "/metrics", ""), false},
	} {
		if got := cloudwatch.Matches(c.r); got != c.want {
			t.Errorf("%s %s %v: Matches = %v", c.r.Method, c.r.URL, c.r.Header, got)
		}
	}
}
