package cloudwatch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/awsproto"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

type dimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

func toDimensions(ds []dimension) []flinkplane.Dimension {
	out := make([]flinkplane.Dimension, len(ds))
	for i, d := range ds {
		out[i] = flinkplane.Dimension{Name: d.Name, Value: d.Value}
	}
	return out
}

func fromDimensions(ds []flinkplane.Dimension) []dimension {
	out := make([]dimension, len(ds))
	for i, d := range ds {
		out[i] = dimension{Name: d.Name, Value: d.Value}
	}
	return out
}

// Limits of CloudWatch.
const (
	maxStatisticsDatapoints = 1440
	maxDataDatapoints       = 100800
	maxQueries              = 500
	listPageSize            = 500
)

// alignStart rounds a start time down as CloudWatch does: to the minute
// within 15 days, to 5 minutes within 63 days, to the hour before that.
func alignStart(start, now time.Time) time.Time {
	age := now.Sub(start)
	switch {
	case age > 63*24*time.Hour:
		return start.Truncate(time.Hour)
	case age > 15*24*time.Hour:
		return start.Truncate(5 * time.Minute)
	}
	return start.Truncate(time.Minute)
}

// checkPeriod accepts the periods CloudWatch accepts (1, 5, 10, 30 or a
// multiple of 60 seconds) and returns the one the data can give: data are
// kept per minute, so a high-resolution period reads as 60 seconds.
func checkPeriod(name string, p int64) (time.Duration, error) {
	switch {
	case p <= 0:
		return 0, invalidValue("The parameter %s must be greater than 0.", name)
	case p == 1 || p == 5 || p == 10 || p == 30:
		return time.Minute, nil
	case p%60 != 0:
		return 0, invalidValue("The parameter %s must be a multiple of 60.", name)
	}
	return time.Duration(p) * time.Second, nil
}

func checkTimes(start, end time.Time) error {
	if !start.Before(end) {
		return invalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	return nil
}

// statistics reports whether a statistic name is one flinkplane computes.
var statNames = map[string]bool{"SampleCount": true, "Average": true, "Sum": true, "Minimum": true, "Maximum": true}

func statValue(s flinkplane.MetricStats, stat string) float64 {
	switch stat {
	case "SampleCount":
		return s.SampleCount
	case "Average":
		return s.Sum / s.SampleCount
	case "Sum":
		return s.Sum
	case "Minimum":
		return s.Min
	case "Maximum":
		return s.Max
	}
	return math.NaN()
}

type getMetricStatisticsInput struct {
	Namespace          string      `json:"Namespace"`
	MetricName         string      `json:"MetricName"`
	Dimensions         []dimension `json:"Dimensions"`
	StartTime          time.Time   `json:"StartTime"`
	EndTime            time.Time   `json:"EndTime"`
	Period             int64       `json:"Period"`
	Statistics         []string    `json:"Statistics"`
	ExtendedStatistics []string    `json:"ExtendedStatistics"`
	Unit               string      `json:"Unit"`
}

type datapoint struct {
	Timestamp   time.Time `json:"Timestamp"`
	SampleCount *float64  `json:"SampleCount,omitempty"`
	Average     *float64  `json:"Average,omitempty"`
	Sum         *float64  `json:"Sum,omitempty"`
	Minimum     *float64  `json:"Minimum,omitempty"`
	Maximum     *float64  `json:"Maximum,omitempty"`
	Unit        string    `json:"Unit,omitempty"`
}

type getMetricStatisticsOutput struct {
	Label      string      `json:"Label"`
	Datapoints []datapoint `json:"Datapoints"`
}

// query reads the statistic sets of one metric; a namespace other than
// AWS/KinesisAnalytics has no data, nor has a unit other than the
// metric's.
func (s *Server) query(ctx context.Context, namespace, name string, dims []dimension, start, end time.Time, period time.Duration, unit string) ([]flinkplane.MetricStats, error) {
	if namespace != flinkplane.MetricsNamespace {
		return nil, nil
	}
	stats, err := s.Metrics.MetricStatistics(ctx, flinkplane.MetricQuery{Name: name, Dimensions: toDimensions(dims), Start: start, End: end, Period: period})
	if err != nil {
		return nil, err
	}
	if unit != "" && len(stats) > 0 && stats[0].Unit != unit {
		return nil, nil
	}
	return stats, nil
}

func (s *Server) getMetricStatistics(ctx context.Context, tree map[string]any) (any, error) {
	var in getMetricStatisticsInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, protoError(err)
	}
	if len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0 {
		return nil, fail("MissingRequiredParameterException", "Must specify either Statistics or ExtendedStatistics.")
	}
	if len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0 {
		return nil, invalidCombination("Must specify either Statistics or ExtendedStatistics, but not both.")
	}
	if len(in.ExtendedStatistics) > 0 {
		return nil, invalidValue("Extended statistics (percentiles) are not available: flinkplane keeps statistic sets (SampleCount, Sum, Minimum, Maximum).")
	}
	period, err := checkPeriod("Period", in.Period)
	if err != nil {
		return nil, err
	}
	start := alignStart(in.StartTime, s.Now())
	if err := checkTimes(start, in.EndTime); err != nil {
		return nil, err
	}
	if n := int64(math.Ceil(float64(in.EndTime.Sub(start)) / float64(time.Duration(in.Period)*time.Second))); n > maxStatisticsDatapoints {
		return nil, invalidCombination("You have requested up to %d datapoints, which exceeds the limit of %d. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", n, maxStatisticsDatapoints)
	}
	stats, err := s.query(ctx, in.Namespace, in.MetricName, in.Dimensions, start, in.EndTime, period, in.Unit)
	if err != nil {
		return nil, err
	}
	out := getMetricStatisticsOutput{Label: in.MetricName, Datapoints: []datapoint{}}
	for _, st := range stats {
		dp := datapoint{Timestamp: st.Time, Unit: st.Unit}
		for _, name := range in.Statistics {
			v := statValue(st, name)
			switch name {
			case "SampleCount":
				dp.SampleCount = &v
			case "Average":
				dp.Average = &v
			case "Sum":
				dp.Sum = &v
			case "Minimum":
				dp.Minimum = &v
			case "Maximum":
				dp.Maximum = &v
			}
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

type metric struct {
	Namespace  string      `json:"Namespace"`
	MetricName string      `json:"MetricName"`
	Dimensions []dimension `json:"Dimensions"`
}

type metricStat struct {
	Metric metric `json:"Metric"`
	Period int64  `json:"Period"`
	Stat   string `json:"Stat"`
	Unit   string `json:"Unit"`
}

type metricDataQuery struct {
	ID         string      `json:"Id"`
	MetricStat *metricStat `json:"MetricStat"`
	Expression string      `json:"Expression"`
	Label      string      `json:"Label"`
	ReturnData *bool       `json:"ReturnData"`
	Period     int64       `json:"Period"`
	AccountID  string      `json:"AccountId"`
}

type getMetricDataInput struct {
	MetricDataQueries []metricDataQuery `json:"MetricDataQueries"`
	StartTime         time.Time         `json:"StartTime"`
	EndTime           time.Time         `json:"EndTime"`
	NextToken         string            `json:"NextToken"`
	ScanBy            string            `json:"ScanBy"`
	MaxDatapoints     int64             `json:"MaxDatapoints"`
}

type messageData struct {
	Code  string `json:"Code"`
	Value string `json:"Value"`
}

type metricDataResult struct {
	ID         string        `json:"Id"`
	Label      string        `json:"Label"`
	Timestamps []time.Time   `json:"Timestamps"`
	Values     []float64     `json:"Values"`
	StatusCode string        `json:"StatusCode"`
	Messages   []messageData `json:"Messages"`
}

type getMetricDataOutput struct {
	MetricDataResults []metricDataResult `json:"MetricDataResults"`
	NextToken         string             `json:"NextToken,omitempty"`
	Messages          []messageData      `json:"Messages"`
}

var queryIDRe = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// dataToken is the position of the next page of GetMetricData: the query
// index and the number of its values already returned.
type dataToken struct {
	Query  int `json:"q"`
	Offset int `json:"o"`
}

func (t dataToken) String() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseDataToken(s string, queries int) (dataToken, error) {
	var t dataToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Query < 0 || t.Query >= queries || t.Offset < 0 {
		return t, fail("InvalidNextToken", "The service couldn't recognize the token %s.", clip(s))
	}
	return t, nil
}

func (s *Server) getMetricData(ctx context.Context, tree map[string]any) (any, error) {
	var in getMetricDataInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, protoError(err)
	}
	n := len(in.MetricDataQueries)
	if n == 0 || n > maxQueries {
		return nil, invalidValue("The collection MetricDataQueries must contain between 1 and %d members.", maxQueries)
	}
	start := alignStart(in.StartTime, s.Now())
	if err := checkTimes(start, in.EndTime); err != nil {
		return nil, err
	}
	switch in.ScanBy {
	case "", "TimestampDescending", "TimestampAscending":
	default:
		return nil, invalidValue("The parameter ScanBy must be TimestampDescending or TimestampAscending.")
	}
	max := int(in.MaxDatapoints)
	if max <= 0 || max > maxDataDatapoints {
		max = maxDataDatapoints
	}
	ids := map[string]bool{}
	for i, q := range in.MetricDataQueries {
		if !queryIDRe.MatchString(q.ID) {
			return nil, invalidValue("The value %s for parameter MetricDataQueries.member.%d.Id is not valid: it must start with a lowercase letter and contain only letters, numbers and underscores.", clip(q.ID), i+1)
		}
		if ids[q.ID] {
			return nil, invalidValue("The value %s for parameter MetricDataQueries.member.%d.Id is not unique.", q.ID, i+1)
		}
		ids[q.ID] = true
		if q.Expression != "" {
			return nil, invalidValue("The parameter MetricDataQueries.member.%d.Expression is not supported: flinkplane computes no metric math; use MetricStat.", i+1)
		}
		if q.MetricStat == nil {
			return nil, fail("MissingRequiredParameterException", "The parameter MetricDataQueries.member.%d must have either MetricStat or Expression.", i+1)
		}
		if !statNames[q.MetricStat.Stat] {
			return nil, invalidValue("The parameter MetricDataQueries.member.%d.MetricStat.Stat must be one of SampleCount, Average, Sum, Minimum or Maximum (percentiles and other statistics are not available).", i+1)
		}
		if _, err := checkPeriod(fmt.Sprintf("MetricDataQueries.member.%d.MetricStat.Period", i+1), q.MetricStat.Period); err != nil {
			return nil, err
		}
	}
	tok := dataToken{}
	if in.NextToken != "" {
		var err error
		if tok, err = parseDataToken(in.NextToken, n); err != nil {
			return nil, err
		}
	}
	out := getMetricDataOutput{MetricDataResults: []metricDataResult{}, Messages: []messageData{}}
	left := max
	for i := tok.Query; i < n; i++ {
		q := in.MetricDataQueries[i]
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		ms := q.MetricStat
		period, _ := checkPeriod("Period", ms.Period)
		stats, err := s.query(ctx, ms.Metric.Namespace, ms.Metric.MetricName, ms.Metric.Dimensions, start, in.EndTime, period, ms.Unit)
		if err != nil {
			return nil, err
		}
		if in.ScanBy != "TimestampAscending" {
			sort.Slice(stats, func(a, b int) bool { return stats[a].Time.After(stats[b].Time) })
		}
		label := q.Label
		if label == "" {
			label = ms.Metric.MetricName
		}
		res := metricDataResult{ID: q.ID, Label: label, Timestamps: []time.Time{}, Values: []float64{}, StatusCode: "Complete", Messages: []messageData{}}
		from := 0
		if i == tok.Query {
			from = min(tok.Offset, len(stats))
		}
		for j := from; j < len(stats); j++ {
			if left == 0 {
				res.StatusCode = "PartialData"
				out.NextToken = dataToken{Query: i, Offset: j}.String()
				break
			}
			res.Timestamps = append(res.Timestamps, stats[j].Time)
			res.Values = append(res.Values, statValue(stats[j], ms.Stat))
			left--
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
		if out.NextToken != "" {
			break
		}
	}
	return out, nil
}

type dimensionFilter struct {
	Name  string  `json:"Name"`
	Value *string `json:"Value"`
}

type listMetricsInput struct {
	Namespace             string            `json:"Namespace"`
	MetricName            string            `json:"MetricName"`
	Dimensions            []dimensionFilter `json:"Dimensions"`
	NextToken             string            `json:"NextToken"`
	RecentlyActive        string            `json:"RecentlyActive"`
	IncludeLinkedAccounts bool              `json:"IncludeLinkedAccounts"`
	OwningAccount         string            `json:"OwningAccount"`
}

type listMetricsOutput struct {
	Metrics        []metric `json:"Metrics"`
	NextToken      string   `json:"NextToken,omitempty"`
	OwningAccounts []string `json:"OwningAccounts,omitempty"`
}

func (s *Server) listMetrics(ctx context.Context, tree map[string]any) (any, error) {
	var in listMetricsInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, protoError(err)
	}
	out := listMetricsOutput{Metrics: []metric{}}
	if in.Namespace != "" && in.Namespace != flinkplane.MetricsNamespace || in.OwningAccount != "" && in.OwningAccount != s.Account {
		return out, nil
	}
	f := flinkplane.MetricFilter{Name: in.MetricName, Limit: listPageSize + 1}
	for _, d := range in.Dimensions {
		df := flinkplane.DimensionFilter{Name: d.Name}
		if d.Value != nil {
			df.Value, df.HasValue = *d.Value, true
		}
		f.Dimensions = append(f.Dimensions, df)
	}
	if in.RecentlyActive == "PT3H" {
		f.ActiveSince = s.Now().Add(-3 * time.Hour)
	}
	if in.NextToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil || !strings.Contains(string(b), "\x01") {
			return nil, invalidValue("The service couldn't recognize the token %s.", clip(in.NextToken))
		}
		f.After = string(b)
	}
	ms, err := s.Metrics.ListMetrics(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(ms) > listPageSize {
		ms = ms[:listPageSize]
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(flinkplane.MetricCursor(ms[len(ms)-1])))
	}
	for _, m := range ms {
		out.Metrics = append(out.Metrics, metric{Namespace: flinkplane.MetricsNamespace, MetricName: m.Name, Dimensions: fromDimensions(m.Dimensions)})
		if in.IncludeLinkedAccounts {
			out.OwningAccounts = append(out.OwningAccounts, s.Account)
		}
	}
	return out, nil
}
