package cwlogs

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/awsproto"
)

const (
	defaultEventsLimit   = 10000
	maxResponseBytes     = 1 << 20 // GetLogEvents and FilterLogEvents answer at most 1 MB of events
	defaultDescribeLimit = 50
	eventOverhead        = 26 // CloudWatch Logs counts 26 bytes per event
)

func fromMillis(v int64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// groupName resolves logGroupName or logGroupIdentifier (a name or an
// ARN); exactly one must be given.
func groupName(name, identifier string) (string, error) {
	switch {
	case name != "" && identifier != "":
		return "", invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != "":
		return name, nil
	case identifier != "":
		if g, ok := strings.CutPrefix(identifier, "arn:"); ok {
			// arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
			parts := strings.SplitN(g, ":", 6)
			if len(parts) == 6 {
				if n, ok := strings.CutPrefix(parts[5], "log-group:"); ok {
					return strings.TrimSuffix(n, ":*"), nil
				}
			}
			return "", invalid("Invalid logGroupIdentifier %q: want a log group name or ARN.", clip(identifier))
		}
		return identifier, nil
	}
	return "", invalid("Either the logGroupName or the logGroupIdentifier parameter is required.")
}

func (s *Server) groupARN(name string) string {
	return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", s.Region, s.Account, name)
}

type createLogGroupInput struct {
	LogGroupName string `json:"logGroupName"`
}

func (s *Server) createLogGroup(ctx context.Context, tree map[string]any) (any, error) {
	var in createLogGroupInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, invalid("%s", err)
	}
	return struct{}{}, storeError(s.Logs.CreateLogGroup(ctx, in.LogGroupName, s.Now()))
}

type createLogStreamInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

func (s *Server) createLogStream(ctx context.Context, tree map[string]any) (any, error) {
	var in createLogStreamInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, invalid("%s", err)
	}
	return struct{}{}, storeError(s.Logs.CreateLogStream(ctx, in.LogGroupName, in.LogStreamName, s.Now()))
}

type describeLogGroupsInput struct {
	LogGroupNamePrefix  string   `json:"logGroupNamePrefix"`
	LogGroupNamePattern string   `json:"logGroupNamePattern"`
	LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
	NextToken           string   `json:"nextToken"`
	Limit               int      `json:"limit"`
}

type logGroup struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	MetricFilterCount int    `json:"metricFilterCount"`
	ARN               string `json:"arn"`
	LogGroupARN       string `json:"logGroupArn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
}

type describeLogGroupsOutput struct {
	LogGroups []logGroup `json:"logGroups"`
	NextToken string     `json:"nextToken,omitempty"`
}

func (s *Server) describeLogGroups(ctx context.Context, tree map[string]any) (any, error) {
	var in describeLogGroupsInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, invalid("%s", err)
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	limit := in.Limit
	if limit <= 0 {
		limit = defaultDescribeLimit
	}
	after := in.NextToken
	out := describeLogGroupsOutput{LogGroups: []logGroup{}}
	want := map[string]bool{}
	for _, id := range in.LogGroupIdentifiers {
		n, err := groupName("", id)
		if err != nil {
			return nil, err
		}
		want[n] = true
	}
	for {
		gs, err := s.Logs.LogGroups(ctx, in.LogGroupNamePrefix, after, 500)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			after = g.Name
			if in.LogGroupNamePattern != "" && !strings.Contains(strings.ToLower(g.Name), strings.ToLower(in.LogGroupNamePattern)) {
				continue
			}
			if len(want) > 0 && !want[g.Name] {
				continue
			}
			if len(out.LogGroups) == limit {
				out.NextToken = out.LogGroups[limit-1].LogGroupName
				return out, nil
			}
			out.LogGroups = append(out.LogGroups, logGroup{LogGroupName: g.Name, CreationTime: millis(g.CreateTime),
				ARN: s.groupARN(g.Name) + ":*", LogGroupARN: s.groupARN(g.Name), StoredBytes: g.StoredBytes, LogGroupClass: "STANDARD"})
		}
		if len(gs) < 500 {
			return out, nil
		}
	}
}

type describeLogStreamsInput struct {
	LogGroupName        string `json:"logGroupName"`
	LogGroupIdentifier  string `json:"logGroupIdentifier"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	OrderBy             string `json:"orderBy"`
	Descending          bool   `json:"descending"`
	NextToken           string `json:"nextToken"`
	Limit               int    `json:"limit"`
}

type logStream struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	ARN                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type describeLogStreamsOutput struct {
	LogStreams []logStream `json:"logStreams"`
	NextToken  string      `json:"nextToken,omitempty"`
}

func (s *Server) describeLogStreams(ctx context.Context, tree map[string]any) (any, error) {
	var in describeLogStreamsInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, invalid("%s", err)
	}
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if in.OrderBy == "LastEventTime" && in.LogStreamNamePrefix != "" {
		return nil, invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	limit := in.Limit
	if limit <= 0 {
		limit = defaultDescribeLimit
	}
	streams, err := s.Logs.LogStreams(ctx, group, in.LogStreamNamePrefix, "", 0)
	if err != nil {
		return nil, storeError(err)
	}
	if in.OrderBy == "LastEventTime" {
		sort.SliceStable(streams, func(a, b int) bool { return streams[a].LastEvent.Before(streams[b].LastEvent) })
	}
	if in.Descending {
		for i, j := 0, len(streams)-1; i < j; i, j = i+1, j-1 {
			streams[i], streams[j] = streams[j], streams[i]
		}
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(streams) {
			return nil, invalid("The specified nextToken is invalid.")
		}
		start = n
	}
	out := describeLogStreamsOutput{LogStreams: []logStream{}}
	end := min(start+limit, len(streams))
	for _, st := range streams[start:end] {
		out.LogStreams = append(out.LogStreams, logStream{LogStreamName: st.Name, CreationTime: millis(st.CreateTime),
			FirstEventTimestamp: millis(st.FirstEvent), LastEventTimestamp: millis(st.LastEvent), LastIngestionTime: millis(st.LastIngestion),
			ARN: s.groupARN(group) + ":log-stream:" + st.Name, StoredBytes: st.StoredBytes})
	}
	if end < len(streams) {
		out.NextToken = strconv.Itoa(end)
	}
	return out, nil
}

type getLogEventsInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          int64  `json:"startTime"`
	EndTime            int64  `json:"endTime"`
	NextToken          string `json:"nextToken"`
	Limit              int    `json:"limit"`
	StartFromHead      bool   `json:"startFromHead"`
}

type outputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

// Tokens of GetLogEvents: "f/<time ms>/<id>" reads forward from after that
// position, "b/<time ms>/<id>" backward from before it.
func token(dir string, e flinkplane.LogEvent) string {
	return fmt.Sprintf("%s/%d/%d", dir, e.Time.UnixMilli(), e.ID)
}

func parseToken(tok string) (dir string, pos flinkplane.LogPosition, err error) {
	parts := strings.Split(tok, "/")
	if len(parts) == 3 && (parts[0] == "f" || parts[0] == "b") {
		ms, err1 := strconv.ParseInt(parts[1], 10, 64)
		id, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 == nil && err2 == nil && ms >= 0 && id >= 0 {
			return parts[0], flinkplane.LogPosition{Time: time.UnixMilli(ms).UTC(), ID: id}, nil
		}
	}
	return "", pos, invalid("The specified nextToken is invalid.")
}

func (s *Server) streamExists(ctx context.Context, group, stream string) error {
	ss, err := s.Logs.LogStreams(ctx, group, stream, "", 0)
	if err != nil {
		return storeError(err)
	}
	for _, st := range ss {
		if st.Name == stream {
			return nil
		}
	}
	return apiErr("ResourceNotFoundException", 400, "The specified log stream does not exist.")
}

func (s *Server) getLogEvents(ctx context.Context, tree map[string]any) (any, error) {
	var in getLogEventsInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, invalid("%s", err)
	}
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if err := s.streamExists(ctx, group, in.LogStreamName); err != nil {
		return nil, err
	}
	limit := in.Limit
	if limit <= 0 {
		limit = defaultEventsLimit
	}
	q := flinkplane.LogQuery{Group: group, Streams: []string{in.LogStreamName}, Start: fromMillis(in.StartTime), End: fromMillis(in.EndTime), Limit: limit}
	dir := "f"
	if in.NextToken != "" {
		var pos flinkplane.LogPosition
		if dir, pos, err = parseToken(in.NextToken); err != nil {
			return nil, err
		}
		if dir == "b" {
			q.Backward, q.Before = true, pos
		} else {
			q.After = pos
		}
	} else if !in.StartFromHead {
		q.Backward, dir = true, "b"
	}
	events, err := s.Logs.LogEvents(ctx, q)
	if err != nil {
		return nil, storeError(err)
	}
	if q.Backward {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	events = fitBytes(events, q.Backward)
	out := getLogEventsOutput{Events: []outputLogEvent{}}
	for _, e := range events {
		out.Events = append(out.Events, outputLogEvent{Timestamp: millis(e.Time), Message: e.Message, IngestionTime: millis(e.Ingestion)})
	}
	switch {
	case len(events) > 0:
		out.NextForwardToken = token("f", events[len(events)-1])
		out.NextBackwardToken = token("b", events[0])
	case in.NextToken != "":
		// At the end in that direction: the same token, as CloudWatch
		// Logs answers, and its reverse.
		out.NextForwardToken, out.NextBackwardToken = in.NextToken, in.NextToken
		_, pos, _ := parseToken(in.NextToken)
		if dir == "f" {
			out.NextBackwardToken = token("b", flinkplane.LogEvent{Time: pos.Time, ID: pos.ID + 1})
		} else {
			out.NextForwardToken = token("f", flinkplane.LogEvent{Time: pos.Time, ID: pos.ID - 1})
		}
	default:
		out.NextForwardToken, out.NextBackwardToken = "f/0/0", "b/0/0"
	}
	return out, nil
}

// fitBytes keeps the events that fit in one response (1 MB, counting 26
// bytes per event): the oldest ones reading forward, the newest backward.
func fitBytes(events []flinkplane.LogEvent, backward bool) []flinkplane.LogEvent {
	total := 0
	if backward {
		for i := len(events) - 1; i >= 0; i-- {
			total += len(events[i].Message) + eventOverhead
			if total > maxResponseBytes {
				return events[i+1:]
			}
		}
		return events
	}
	for i, e := range events {
		total += len(e.Message) + eventOverhead
		if total > maxResponseBytes {
			return events[:i]
		}
	}
	return events
}

type filterLogEventsInput struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           int64    `json:"startTime"`
	EndTime             int64    `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               int      `json:"limit"`
}

type filteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type searchedLogStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

type filterLogEventsOutput struct {
	Events             []filteredLogEvent  `json:"events"`
	SearchedLogStreams []searchedLogStream `json:"searchedLogStreams"`
	NextToken          string              `json:"nextToken,omitempty"`
}

// filterBatch is how many events FilterLogEvents reads at a time.
const filterBatch = 1000

func (s *Server) filterLogEvents(ctx context.Context, tree map[string]any) (any, error) {
	var in filterLogEventsInput
	if err := awsproto.FromTree(tree, &in); err != nil {
		return nil, invalid("%s", err)
	}
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	match, err := CompileFilter(in.FilterPattern)
	if err != nil {
		return nil, invalid("Invalid filter pattern: %v.", err)
	}
	limit := in.Limit
	if limit <= 0 {
		limit = defaultEventsLimit
	}
	streams, err := s.Logs.LogStreams(ctx, group, in.LogStreamNamePrefix, "", 0)
	if err != nil {
		return nil, storeError(err)
	}
	q := flinkplane.LogQuery{Group: group, Streams: in.LogStreamNames, Prefix: in.LogStreamNamePrefix,
		Start: fromMillis(in.StartTime), End: fromMillis(in.EndTime), Limit: filterBatch}
	if in.NextToken != "" {
		dir, pos, err := parseToken(in.NextToken)
		if err != nil || dir != "f" {
			return nil, invalid("The specified nextToken is invalid.")
		}
		q.After = pos
	}
	out := filterLogEventsOutput{Events: []filteredLogEvent{}, SearchedLogStreams: []searchedLogStream{}}
	bytes := 0
	for {
		batch, err := s.Logs.LogEvents(ctx, q)
		if err != nil {
			return nil, storeError(err)
		}
		for _, e := range batch {
			q.After = flinkplane.LogPosition{Time: e.Time, ID: e.ID}
			if !match(e.Message) {
				continue
			}
			bytes += len(e.Message) + eventOverhead
			if len(out.Events) == limit || bytes > maxResponseBytes {
				out.NextToken = token("f", flinkplane.LogEvent{Time: out.lastTime(), ID: out.lastID()})
				return out.withStreams(streams, in.LogStreamNames, false), nil
			}
			out.Events = append(out.Events, filteredLogEvent{LogStreamName: e.Stream, Timestamp: millis(e.Time), Message: e.Message,
				IngestionTime: millis(e.Ingestion), EventID: strconv.FormatInt(e.ID, 10)})
		}
		if len(batch) < filterBatch {
			return out.withStreams(streams, in.LogStreamNames, true), nil
		}
	}
}

func (o filterLogEventsOutput) lastTime() time.Time {
	return fromMillis(o.Events[len(o.Events)-1].Timestamp)
}

func (o filterLogEventsOutput) lastID() int64 {
	id, _ := strconv.ParseInt(o.Events[len(o.Events)-1].EventID, 10, 64)
	return id
}

func (o filterLogEventsOutput) withStreams(streams []flinkplane.LogStream, names []string, complete bool) filterLogEventsOutput {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, st := range streams {
		if len(want) > 0 && !want[st.Name] {
			continue
		}
		o.SearchedLogStreams = append(o.SearchedLogStreams, searchedLogStream{LogStreamName: st.Name, SearchedCompletely: complete})
	}
	return o
}
