package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/aws/smithy-go"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/mock"
)

func TestE2E_CreateDescribeList(t *testing.T) {
	m := startMain(t, mock.NewClusterDriver(), "")
	c := apiClient(m.URL())

	d := srvCreateApp(t, c, "app-1", func(in *kav2.CreateApplicationInput) {
		in.ApplicationDescription = aws.String("first")
		in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}}
		in.CloudWatchLoggingOptions = []types.CloudWatchLoggingOption{{LogStreamARN: aws.String("arn:aws:logs:eu-west-1:123456789012:log-group:g:log-stream:s")}}
	})
	if got, want := aws.ToString(d.ApplicationARN), "arn:aws:kinesisanalytics:eu-west-1:123456789012:application/app-1"; got != want {
		t.Fatalf("ARN = %s, want %s", got, want)
	}
	if d.ApplicationStatus != types.ApplicationStatusReady || aws.ToInt64(d.ApplicationVersionId) != 1 || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("detail %+v", d)
	}
	if d.CreateTimestamp == nil || time.Since(*d.CreateTimestamp) > time.Minute || d.ConditionalToken == nil {
		t.Fatalf("timestamps/token: %+v", d)
	}
	acd := d.ApplicationConfigurationDescription
	if s3 := acd.ApplicationCodeConfigurationDescription.CodeContentDescription.S3ApplicationCodeLocationDescription; aws.ToString(s3.FileKey) != "app-1.20.jar" {
		t.Fatalf("code %+v", s3)
	}
	cp := acd.FlinkApplicationConfigurationDescription.CheckpointConfigurationDescription
	if aws.ToInt64(cp.CheckpointInterval) != 60000 || aws.ToInt64(cp.MinPauseBetweenCheckpoints) != 5000 || !aws.ToBool(cp.CheckpointingEnabled) {
		t.Fatalf("checkpoint defaults %+v", cp)
	}
	if acd.ApplicationSystemRollbackConfigurationDescription.RollbackEnabled == nil || *acd.ApplicationSystemRollbackConfigurationDescription.RollbackEnabled {
		t.Fatal("rollback must default to false")
	}
	if acd.EnvironmentPropertyDescriptions.PropertyGroupDescriptions[0].PropertyMap["rate"] != "10" {
		t.Fatal("properties lost")
	}
	if len(d.CloudWatchLoggingOptionDescriptions) != 1 {
		t.Fatal("logging option lost")
	}

	// Duplicate name.
	_, err := c.CreateApplication(sctx, &kav2.CreateApplicationInput{ApplicationName: aws.String("app-1"), RuntimeEnvironment: types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::1:role/r")})
	srvWantErr[*types.ResourceInUseException](t, err, "app-1")
	// Validation the SDK does not do: pattern, unknown runtime.
	_, err = c.CreateApplication(sctx, &kav2.CreateApplicationInput{ApplicationName: aws.String("bad name!"), RuntimeEnvironment: types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::1:role/r")})
	srvWantErr[*types.InvalidArgumentException](t, err, "applicationName")
	_, err = c.CreateApplication(sctx, &kav2.CreateApplicationInput{ApplicationName: aws.String("x"), RuntimeEnvironment: "FLINK-9_9",
		ServiceExecutionRole: aws.String("arn:aws:iam::1:role/r")})
	srvWantErr[*types.InvalidArgumentException](t, err, "FLINK-9_9")
	// Missing code object.
	_, err = c.CreateApplication(sctx, &kav2.CreateApplicationInput{ApplicationName: aws.String("nocode"), RuntimeEnvironment: types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::1:role/r"),
		ApplicationConfiguration: &types.ApplicationConfiguration{ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
			CodeContentType: types.CodeContentTypeZipfile,
			CodeContent:     &types.CodeContent{S3ContentLocation: &types.S3ContentLocation{BucketARN: aws.String(testBucket), FileKey: aws.String("missing.jar")}}}}})
	srvWantErr[*types.CodeValidationException](t, err, "missing.jar")
	_, err = c.CreateApplication(sctx, &kav2.CreateApplicationInput{ApplicationName: aws.String("escape"), RuntimeEnvironment: types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::1:role/r"),
		ApplicationConfiguration: &types.ApplicationConfiguration{ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
			CodeContentType: types.CodeContentTypeZipfile,
			CodeContent:     &types.CodeContent{S3ContentLocation: &types.S3ContentLocation{BucketARN: aws.String(testBucket), FileKey: aws.String("../../flinkplane.db")}}}}})
	srvWantErr[*types.InvalidArgumentException](t, err)
	// Zip content is stored too.
	zd := srvCreateApp(t, c, "zipped", func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.ApplicationCodeConfiguration.CodeContent = &types.CodeContent{ZipFileContent: []byte("PK\x03\x04zip")}
	})
	if cd := zd.ApplicationConfigurationDescription.ApplicationCodeConfigurationDescription.CodeContentDescription; aws.ToInt64(cd.CodeSize) != 7 || len(aws.ToString(cd.CodeMD5)) != 128 {
		t.Fatalf("zip code description %+v", cd)
	}

	_, err = c.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String("nope")})
	srvWantErr[*types.ResourceNotFoundException](t, err, "nope")

	for i := 0; i < 5; i++ {
		srvCreateApp(t, c, fmt.Sprintf("list-%d", i), nil)
	}
	var names []string
	p := kav2.NewListApplicationsPaginator(c, &kav2.ListApplicationsInput{Limit: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(sctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.ApplicationSummaries {
			names = append(names, aws.ToString(s.ApplicationName))
			if s.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 || aws.ToString(s.ApplicationARN) == "" {
				t.Fatalf("summary %+v", s)
			}
		}
	}
	if len(names) != 7 || pages != 4 || names[0] != "app-1" {
		t.Fatalf("listed %v in %d pages", names, pages)
	}

	tags, err := c.ListTagsForResource(sctx, &kav2.ListTagsForResourceInput{ResourceARN: d.ApplicationARN})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "data" {
		t.Fatalf("tags %+v %v", tags, err)
	}
}

func TestE2E_Tags(t *testing.T) {
	m := startMain(t, mock.NewClusterDriver(), "")
	c := apiClient(m.URL())
	arn := srvCreateApp(t, c, "a", nil).ApplicationARN
	if _, err := c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: arn, Tags: []types.Tag{{Key: aws.String("k1"), Value: aws.String("v1")}, {Key: aws.String("k2"), Value: aws.String("v2")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(sctx, &kav2.UntagResourceInput{ResourceARN: arn, TagKeys: []string{"k1"}}); err != nil {
		t.Fatal(err)
	}
	out, _ := c.ListTagsForResource(sctx, &kav2.ListTagsForResourceInput{ResourceARN: arn})
	if len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "k2" {
		t.Fatalf("tags %+v", out.Tags)
	}
	var many []types.Tag
	for i := 0; i < 50; i++ {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprint("t", i)), Value: aws.String("v")})
	}
	_, err := c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: arn, Tags: many})
	srvWantErr[*types.TooManyTagsException](t, err)
	_, err = c.ListTagsForResource(sctx, &kav2.ListTagsForResourceInput{ResourceARN: aws.String("arn:aws:kinesisanalytics:eu-west-1:123456789012:application/zz")})
	srvWantErr[*types.ResourceNotFoundException](t, err)
}

func TestE2E_Lifecycle(t *testing.T) {
	driver := mock.NewClusterDriver()
	m := startMain(t, driver, "")
	c := apiClient(m.URL())
	name := "orders"
	srvCreateApp(t, c, name, nil)

	// Stop of a READY application.
	_, err := c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(name)})
	srvWantErr[*types.ResourceInUseException](t, err, "READY")
	_, err = c.CreateApplicationSnapshot(sctx, &kav2.CreateApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("s0")})
	srvWantErr[*types.ResourceInUseException](t, err, "READY")

	start, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	srvWaitStatus(t, c, name, types.ApplicationStatusRunning)
	if op := srvWaitOperation(t, c, name, aws.ToString(start.OperationId)); op.OperationStatus != types.OperationStatusSuccessful || aws.ToString(op.Operation) != "StartApplication" {
		t.Fatalf("start op %+v", op)
	}
	_, err = c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(name)})
	srvWantErr[*types.ResourceInUseException](t, err, "RUNNING")
	url, err := c.CreateApplicationPresignedUrl(sctx, &kav2.CreateApplicationPresignedUrlInput{ApplicationName: aws.String(name), UrlType: types.UrlTypeFlinkDashboardUrl})
	if err != nil || !strings.HasPrefix(aws.ToString(url.AuthorizedUrl), m.URL()+"/dashboard/"+name+"/signin?token=") {
		t.Fatalf("dashboard URL %+v %v", url, err)
	}
	d, _ := c.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String(name), IncludeAdditionalDetails: aws.Bool(true)})
	if d.ApplicationDetail.ApplicationConfigurationDescription.FlinkApplicationConfigurationDescription.JobPlanDescription == nil {
		t.Fatal("IncludeAdditionalDetails shows no job plan")
	}

	// Snapshot.
	if _, err := c.CreateApplicationSnapshot(sctx, &kav2.CreateApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("pre-flink-2.2-upgrade")}); err != nil {
		t.Fatal(err)
	}
	var snap *types.SnapshotDetails
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		out, err := c.DescribeApplicationSnapshot(sctx, &kav2.DescribeApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("pre-flink-2.2-upgrade")})
		if err != nil {
			t.Fatal(err)
		}
		if snap = out.SnapshotDetails; snap.SnapshotStatus == types.SnapshotStatusReady {
			break
		}
	}
	if snap.SnapshotStatus != types.SnapshotStatusReady || snap.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 || aws.ToInt64(snap.ApplicationVersionId) != 1 {
		t.Fatalf("snapshot %+v", snap)
	}
	_, err = c.CreateApplicationSnapshot(sctx, &kav2.CreateApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("pre-flink-2.2-upgrade")})
	srvWantErr[*types.ResourceInUseException](t, err)
	_, err = c.DescribeApplicationSnapshot(sctx, &kav2.DescribeApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("nope")})
	srvWantErr[*types.ResourceNotFoundException](t, err)

	// Enable rollback (no restart), then upgrade to 2.2 while RUNNING.
	cur := srvDescribe(t, c, name)
	up, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(name), CurrentApplicationVersionId: cur.ApplicationVersionId,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationSystemRollbackConfigurationUpdate: &types.ApplicationSystemRollbackConfigurationUpdate{RollbackEnabledUpdate: aws.Bool(true)}}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(up.ApplicationDetail.ApplicationVersionId) != 2 || up.ApplicationDetail.ApplicationStatus != types.ApplicationStatusRunning || aws.ToString(up.ApplicationDetail.ConditionalToken) == aws.ToString(cur.ConditionalToken) {
		t.Fatalf("update %+v", up.ApplicationDetail)
	}
	// Stale version and token.
	_, err = c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(name), CurrentApplicationVersionId: aws.Int64(1),
		ServiceExecutionRoleUpdate: aws.String("arn:aws:iam::1:role/x")})
	srvWantErr[*types.ConcurrentModificationException](t, err)
	_, err = c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(name), ConditionalToken: cur.ConditionalToken,
		ServiceExecutionRoleUpdate: aws.String("arn:aws:iam::1:role/x")})
	srvWantErr[*types.ConcurrentModificationException](t, err)
	_, err = c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(name), ServiceExecutionRoleUpdate: aws.String("arn:aws:iam::1:role/x")})
	srvWantErr[*types.InvalidArgumentException](t, err, "CurrentApplicationVersionId")

	up, err = c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(name), ConditionalToken: up.ApplicationDetail.ConditionalToken,
		RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String("app-2.2.jar")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if up.ApplicationDetail.ApplicationStatus != types.ApplicationStatusUpdating || up.OperationId == nil {
		t.Fatalf("upgrade %+v", up.ApplicationDetail)
	}
	if op := srvWaitOperation(t, c, name, aws.ToString(up.OperationId)); op.OperationStatus != types.OperationStatusSuccessful ||
		aws.ToInt64(op.ApplicationVersionChangeDetails.ApplicationVersionUpdatedFrom) != 2 || aws.ToInt64(op.ApplicationVersionChangeDetails.ApplicationVersionUpdatedTo) != 3 {
		t.Fatalf("upgrade op %+v", op)
	}
	d3 := srvWaitStatus(t, c, name, types.ApplicationStatusRunning)
	if d3.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 || aws.ToInt64(d3.ApplicationVersionUpdatedFrom) != 2 {
		t.Fatalf("after upgrade %+v", d3)
	}

	// Versions are kept.
	vers, err := c.ListApplicationVersions(sctx, &kav2.ListApplicationVersionsInput{ApplicationName: aws.String(name)})
	if err != nil || len(vers.ApplicationVersionSummaries) != 3 {
		t.Fatalf("versions %+v %v", vers, err)
	}
	v1, err := c.DescribeApplicationVersion(sctx, &kav2.DescribeApplicationVersionInput{ApplicationName: aws.String(name), ApplicationVersionId: aws.Int64(1)})
	if err != nil || v1.ApplicationVersionDetail.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("version 1 %+v %v", v1, err)
	}
	_, err = c.DescribeApplicationVersion(sctx, &kav2.DescribeApplicationVersionInput{ApplicationName: aws.String(name), ApplicationVersionId: aws.Int64(99)})
	srvWantErr[*types.ResourceNotFoundException](t, err)

	// Manual rollback to 1.20 from the pre-upgrade snapshot.
	rb, err := c.RollbackApplication(sctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String(name), CurrentApplicationVersionId: aws.Int64(3)})
	if err != nil {
		t.Fatal(err)
	}
	if rb.ApplicationDetail.ApplicationStatus != types.ApplicationStatusRollingBack || aws.ToInt64(rb.ApplicationDetail.ApplicationVersionRolledBackFrom) != 3 ||
		aws.ToInt64(rb.ApplicationDetail.ApplicationVersionRolledBackTo) != 2 {
		t.Fatalf("rollback %+v", rb.ApplicationDetail)
	}
	srvWaitOperation(t, c, name, aws.ToString(rb.OperationId))
	d4 := srvWaitStatus(t, c, name, types.ApplicationStatusRunning)
	if d4.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 || aws.ToInt64(d4.ApplicationVersionId) != 4 {
		t.Fatalf("after rollback %+v", d4)
	}
	_, err = c.RollbackApplication(sctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String(name), CurrentApplicationVersionId: aws.Int64(1)})
	srvWantErr[*types.ConcurrentModificationException](t, err)

	// Operations: newest first, filters, pagination.
	all, err := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(all.ApplicationOperationInfoList[0].Operation); got != "RollbackApplication" {
		t.Fatalf("newest operation %s", got)
	}
	upd, _ := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String(name), Operation: aws.String("UpdateApplication"),
		OperationStatus: types.OperationStatusSuccessful})
	if len(upd.ApplicationOperationInfoList) != 2 {
		t.Fatalf("update operations %d", len(upd.ApplicationOperationInfoList))
	}
	n := 0
	pg := kav2.NewListApplicationOperationsPaginator(c, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String(name), Limit: aws.Int32(1)})
	for pg.HasMorePages() {
		out, err := pg.NextPage(sctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.ApplicationOperationInfoList)
	}
	if n != len(all.ApplicationOperationInfoList) {
		t.Fatalf("paginated %d operations, listed %d", n, len(all.ApplicationOperationInfoList))
	}
	_, err = c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(name), OperationId: aws.String("nope")})
	srvWantErr[*types.ResourceNotFoundException](t, err)

	// CloudWatch logging options bump the version.
	add, err := c.AddApplicationCloudWatchLoggingOption(sctx, &kav2.AddApplicationCloudWatchLoggingOptionInput{ApplicationName: aws.String(name),
		CurrentApplicationVersionId: aws.Int64(4), CloudWatchLoggingOption: &types.CloudWatchLoggingOption{LogStreamARN: aws.String("arn:aws:logs:eu-west-1:123456789012:log-group:g:log-stream:s")}})
	if err != nil || aws.ToInt64(add.ApplicationVersionId) != 5 || len(add.CloudWatchLoggingOptionDescriptions) != 1 || add.OperationId == nil {
		t.Fatalf("add logging %+v %v", add, err)
	}
	del, err := c.DeleteApplicationCloudWatchLoggingOption(sctx, &kav2.DeleteApplicationCloudWatchLoggingOptionInput{ApplicationName: aws.String(name),
		CurrentApplicationVersionId: aws.Int64(5), CloudWatchLoggingOptionId: add.CloudWatchLoggingOptionDescriptions[0].CloudWatchLoggingOptionId})
	if err != nil || aws.ToInt64(del.ApplicationVersionId) != 6 || len(del.CloudWatchLoggingOptionDescriptions) != 0 {
		t.Fatalf("delete logging %+v %v", del, err)
	}

	// Stop takes a snapshot; Force does not.
	stop, err := c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	srvWaitOperation(t, c, name, aws.ToString(stop.OperationId))
	srvWaitStatus(t, c, name, types.ApplicationStatusReady)
	snaps, err := c.ListApplicationSnapshots(sctx, &kav2.ListApplicationSnapshotsInput{ApplicationName: aws.String(name)})
	if err != nil || len(snaps.SnapshotSummaries) != 3 { // manual, pre-upgrade, stop
		t.Fatalf("snapshots %+v %v", snaps, err)
	}
	if driver.LiveClusters() != 0 || len(driver.Running()) != 0 {
		t.Fatal("cluster outlived stop")
	}

	// Delete a snapshot (timestamp truncated to the second).
	_, err = c.DeleteApplicationSnapshot(sctx, &kav2.DeleteApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("pre-flink-2.2-upgrade"),
		SnapshotCreationTimestamp: aws.Time(snap.SnapshotCreationTimestamp.Add(-time.Hour))})
	srvWantErr[*types.InvalidArgumentException](t, err)
	if _, err := c.DeleteApplicationSnapshot(sctx, &kav2.DeleteApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("pre-flink-2.2-upgrade"),
		SnapshotCreationTimestamp: aws.Time(snap.SnapshotCreationTimestamp.Truncate(time.Second))}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err := c.DescribeApplicationSnapshot(sctx, &kav2.DescribeApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String("pre-flink-2.2-upgrade")})
		if err != nil {
			srvWantErr[*types.ResourceNotFoundException](t, err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("snapshot not deleted")
		}
	}

	// Delete the application; CreateTimestamp truncated to the second.
	created := srvDescribe(t, c, name).CreateTimestamp
	_, err = c.DeleteApplication(sctx, &kav2.DeleteApplicationInput{ApplicationName: aws.String(name), CreateTimestamp: aws.Time(created.Add(-5 * time.Second))})
	srvWantErr[*types.InvalidArgumentException](t, err)
	if _, err := c.DeleteApplication(sctx, &kav2.DeleteApplicationInput{ApplicationName: aws.String(name), CreateTimestamp: aws.Time(created.Truncate(time.Second))}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String(name)})
	srvWantErr[*types.ResourceNotFoundException](t, err)
}

func TestE2E_StartFailures(t *testing.T) {
	t.Run("NoRuntime", func(t *testing.T) {
		m := startMain(t, nil, "")
		c := apiClient(m.URL())
		srvCreateApp(t, c, "a", nil)
		_, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
		srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "not available")
		if d := srvDescribe(t, c, "a"); d.ApplicationStatus != types.ApplicationStatusReady {
			t.Fatalf("status %s", d.ApplicationStatus)
		}
	})
	t.Run("JobFails", func(t *testing.T) {
		driver := mock.NewClusterDriver()
		driver.JobStates = []flinkplane.JobHealth{{State: "RESTARTING", Restarts: 1, RootCause: "java.lang.ClassNotFoundException: org.apache.flink.api.java.ExecutionEnvironment"}}
		m := startMain(t, driver, "")
		c := apiClient(m.URL())
		srvCreateApp(t, c, "a", nil)
		out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
		if err != nil {
			t.Fatal(err)
		}
		op := srvWaitOperation(t, c, "a", aws.ToString(out.OperationId))
		if op.OperationStatus != types.OperationStatusFailed || !strings.Contains(aws.ToString(op.OperationFailureDetails.ErrorInfo.ErrorString), "ClassNotFoundException") {
			t.Fatalf("op %+v", op)
		}
		srvWaitStatus(t, c, "a", types.ApplicationStatusReady)
	})
	t.Run("NewerSnapshotRefused", func(t *testing.T) {
		driver := mock.NewClusterDriver()
		m := startMain(t, driver, "")
		c := apiClient(m.URL())
		srvCreateApp(t, c, "a", func(in *kav2.CreateApplicationInput) {
			in.RuntimeEnvironment = types.RuntimeEnvironmentFlink22
			in.ApplicationConfiguration.ApplicationCodeConfiguration.CodeContent.S3ContentLocation.FileKey = aws.String("app-2.2.jar")
		})
		out, _ := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
		srvWaitOperation(t, c, "a", aws.ToString(out.OperationId))
		c.CreateApplicationSnapshot(sctx, &kav2.CreateApplicationSnapshotInput{ApplicationName: aws.String("a"), SnapshotName: aws.String("on22")})
		stop, _ := c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String("a"), Force: aws.Bool(true)})
		srvWaitOperation(t, c, "a", aws.ToString(stop.OperationId))
		d := srvDescribe(t, c, "a")
		_, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("a"), CurrentApplicationVersionId: d.ApplicationVersionId,
			RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink120,
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
				CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String("app-1.20.jar")}}}}})
		if err != nil {
			t.Fatal(err)
		}
		driver.Calls()
		_, err = c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a"), RunConfiguration: &types.RunConfiguration{
			ApplicationRestoreConfiguration: &types.ApplicationRestoreConfiguration{ApplicationRestoreType: types.ApplicationRestoreTypeRestoreFromCustomSnapshot, SnapshotName: aws.String("on22")}}})
		srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "FLINK-2_2", "FLINK-1_20")
		if calls := driver.Calls(); len(calls) != 0 {
			t.Fatalf("something started: %q", calls)
		}
	})
}

func TestE2E_CompatPreflight(t *testing.T) {
	driver := mock.NewClusterDriver()
	m := NewMain()
	m.Compat = &mock.CompatChecker{JarFunc: func(jar string, target flinkplane.RuntimeID) []flinkplane.Finding {
		return []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "REMOVED_API", Message: "org/apache/flink/streaming/api/functions/source/SourceFunction is not in FLINK-2_2",
			Class: "com.example.LegacyJob", Method: "main", Hint: "use a FLIP-27 Source with env.fromSource"}}
	}}
	_ = m
	mm := startMainWith(t, driver, m.Compat)
	c := apiClient(mm.URL())
	srvCreateApp(t, c, "a", nil)
	out, _ := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
	srvWaitOperation(t, c, "a", aws.ToString(out.OperationId))
	driver.Calls()
	_, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("a"), CurrentApplicationVersionId: aws.Int64(1),
		RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22})
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "SourceFunction", "com.example.LegacyJob")
	// The running job is not stopped: the check reads a savepoint taken
	// of the running job (a canonical one, the format the update would
	// restore), and that probe savepoint is disposed afterwards.
	if calls := driver.Calls(); strings.Join(calls, ",") != "TriggerSavepoint,PollSavepoint,DisposeSavepoint" {
		t.Fatalf("running job touched: %q", calls)
	}
	if d := srvDescribe(t, c, "a"); d.ApplicationStatus != types.ApplicationStatusRunning || aws.ToInt64(d.ApplicationVersionId) != 1 {
		t.Fatalf("application changed: %+v", d)
	}
	ops, _ := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String("a"), OperationStatus: types.OperationStatusFailed})
	if len(ops.ApplicationOperationInfoList) != 1 {
		t.Fatalf("rejected update not recorded: %+v", ops)
	}
	// The findings are shown by DescribeApplicationOperation.
	body := srvRawCall(t, mm.URL(), "DescribeApplicationOperation", map[string]any{"ApplicationName": "a", "OperationId": aws.ToString(ops.ApplicationOperationInfoList[0].OperationId)})
	if !strings.Contains(string(body), "FlinkplaneCompatibilityFindings") || !strings.Contains(string(body), "REMOVED_API") {
		t.Fatalf("findings not shown: %s", body)
	}
	// Override with the tag.
	arn := srvDescribe(t, c, "a").ApplicationARN
	c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: arn, Tags: []types.Tag{{Key: aws.String("flinkplane:compat-check"), Value: aws.String("warn")}}})
	up, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("a"), CurrentApplicationVersionId: aws.Int64(1),
		RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22})
	if err != nil {
		t.Fatal(err)
	}
	if op := srvWaitOperation(t, c, "a", aws.ToString(up.OperationId)); op.OperationStatus != types.OperationStatusSuccessful {
		t.Fatalf("op %+v", op)
	}
}

func startMainWith(t *testing.T, driver flinkplane.ClusterDriver, compat flinkplane.CompatChecker) *Main {
	t.Helper()
	withoutDefaults(t)
	newCompatChecker = func(serveConfig) (flinkplane.CompatChecker, error) { return compat, nil }
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.Region = "eu-west-1"
	m.Config.AccountID = "123456789012"
	m.Config.WatchInterval = 0
	m.Config.ProbationWindow = -1
	m.Driver = driver
	m.PollInterval = 5 * time.Millisecond
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, key := range []string{"app-1.20.jar", "app-2.2.jar"} {
		srvPutObject(t, m.Config.DataDir, "flinkplane-test", key)
	}
	return m
}

// srvRawCall posts an operation without the SDK and returns the body.
func srvRawCall(t testing.TB, url, op string, in any) []byte {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(b))
	req.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return buf.Bytes()
}

func TestE2E_Protocol(t *testing.T) {
	m := startMain(t, nil, "")
	post := func(target, body string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest("POST", m.URL()+"/", strings.NewReader(body))
		if target != "" {
			req.Header.Set("X-Amz-Target", target)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	resp, out := post("KinesisAnalytics_20180523.DescribeApplication", `{"ApplicationName":"none"}`)
	if resp.StatusCode != 400 || out["__type"] != "ResourceNotFoundException" || out["message"] == "" || resp.Header.Get("X-Amzn-Requestid") == "" {
		t.Fatalf("%d %v %v", resp.StatusCode, out, resp.Header)
	}
	resp, out = post("KinesisAnalytics_20180523.Nope", `{}`)
	if resp.StatusCode != 400 || out["__type"] != "UnknownOperationException" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	resp, out = post("", `{}`)
	if resp.StatusCode != 400 || out["__type"] != "UnknownOperationException" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	resp, out = post("KinesisAnalytics_20180523.ListApplications", `{"Limit": "x"`)
	if resp.StatusCode != 400 || out["__type"] != "SerializationException" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	resp, out = post("KinesisAnalytics_20180523.ListApplications", `{"Limit": 51}`)
	if resp.StatusCode != 400 || out["__type"] != "InvalidArgumentException" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	resp, out = post("KinesisAnalytics_20180523.ListApplications", ``)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	// Epoch-second timestamps.
	c := apiClient(m.URL())
	srvCreateApp(t, c, "ts", nil)
	_, out = post("KinesisAnalytics_20180523.DescribeApplication", `{"ApplicationName":"ts"}`)
	if _, ok := out["ApplicationDetail"].(map[string]any)["CreateTimestamp"].(float64); !ok {
		t.Fatalf("CreateTimestamp is not a number: %v", out)
	}
}

// Every operation of the model is routed: none gets a 404, a crash or an
// UnknownOperationException.
func TestE2E_EveryOperationRouted(t *testing.T) {
	m := startMain(t, nil, "")
	srvCreateApp(t, apiClient(m.URL()), "flink", nil)
	for _, op := range model.Operations() {
		body := srvRawCall(t, m.URL(), op.Name, map[string]any{"ApplicationName": "flink"})
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %s", op.Name, body)
		}
		if out["__type"] == "UnknownOperationException" || out["__type"] == "InternalFailure" {
			t.Errorf("%s: %s", op.Name, body)
		}
	}
	c := apiClient(m.URL())
	_, err := c.AddApplicationInput(sctx, &kav2.AddApplicationInputInput{ApplicationName: aws.String("flink"), CurrentApplicationVersionId: aws.Int64(1),
		Input: &types.Input{NamePrefix: aws.String("p"), InputSchema: &types.SourceSchema{RecordColumns: []types.RecordColumn{{Name: aws.String("c"), SqlType: aws.String("INT")}},
			RecordFormat: &types.RecordFormat{RecordFormatType: types.RecordFormatTypeJson}},
			KinesisStreamsInput: &types.KinesisStreamsInput{ResourceARN: aws.String("arn:aws:kinesis:eu-west-1:1:stream/s")}}})
	srvWantErr[*types.InvalidArgumentException](t, err, "SQL")
	_, err = c.DiscoverInputSchema(sctx, &kav2.DiscoverInputSchemaInput{ServiceExecutionRole: aws.String("arn:aws:iam::1:role/r"), ResourceARN: aws.String("arn:aws:kinesis:eu-west-1:1:stream/s")})
	srvWantErr[*types.UnsupportedOperationException](t, err)
	_, err = c.CreateApplicationPresignedUrl(sctx, &kav2.CreateApplicationPresignedUrlInput{ApplicationName: aws.String("flink"), UrlType: types.UrlTypeFlinkDashboardUrl})
	srvWantErr[*types.ResourceInUseException](t, err)
	mo, err := c.UpdateApplicationMaintenanceConfiguration(sctx, &kav2.UpdateApplicationMaintenanceConfigurationInput{ApplicationName: aws.String("flink"),
		ApplicationMaintenanceConfigurationUpdate: &types.ApplicationMaintenanceConfigurationUpdate{ApplicationMaintenanceWindowStartTimeUpdate: aws.String("03:00")}})
	if err != nil || aws.ToString(mo.ApplicationMaintenanceConfigurationDescription.ApplicationMaintenanceWindowEndTime) != "11:00" {
		t.Fatalf("maintenance %+v %v", mo, err)
	}
	var ae smithy.APIError
	_ = ae
}

func TestE2E_VpcAndConcurrentUpdates(t *testing.T) {
	m := startMain(t, mock.NewClusterDriver(), "")
	c := apiClient(m.URL())
	srvCreateApp(t, c, "a", nil)
	add, err := c.AddApplicationVpcConfiguration(sctx, &kav2.AddApplicationVpcConfigurationInput{ApplicationName: aws.String("a"), CurrentApplicationVersionId: aws.Int64(1),
		VpcConfiguration: &types.VpcConfiguration{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}}})
	if err != nil || aws.ToInt64(add.ApplicationVersionId) != 2 || aws.ToString(add.VpcConfigurationDescription.VpcConfigurationId) == "" {
		t.Fatalf("add vpc %+v %v", add, err)
	}
	d := srvDescribe(t, c, "a")
	if len(d.ApplicationConfigurationDescription.VpcConfigurationDescriptions) != 1 {
		t.Fatal("vpc configuration not shown")
	}
	_, err = c.DeleteApplicationVpcConfiguration(sctx, &kav2.DeleteApplicationVpcConfigurationInput{ApplicationName: aws.String("a"), ConditionalToken: d.ConditionalToken,
		VpcConfigurationId: add.VpcConfigurationDescription.VpcConfigurationId})
	if err != nil {
		t.Fatal(err)
	}

	// Concurrent updates of one version: exactly one wins.
	cur := srvDescribe(t, c, "a").ApplicationVersionId
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			_, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("a"), CurrentApplicationVersionId: cur,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{
					PropertyGroups: []types.PropertyGroup{{PropertyGroupId: aws.String("g"), PropertyMap: map[string]string{"i": fmt.Sprint(i)}}}}}})
			errs <- err
		}(i)
	}
	ok := 0
	for i := 0; i < n; i++ {
		if err := <-errs; err == nil {
			ok++
		} else {
			srvWantErr[*types.ConcurrentModificationException](t, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent updates succeeded", ok)
	}
	if v := aws.ToInt64(srvDescribe(t, c, "a").ApplicationVersionId); v != aws.ToInt64(cur)+1 {
		t.Fatalf("version %d", v)
	}
}

// A graceful restart leaves no cluster running while the server is down and
// brings running applications back from the savepoint they stopped with.
func TestE2E_GracefulRestart(t *testing.T) {
	driver := mock.NewClusterDriver()
	dir := t.TempDir()
	m := startMain(t, driver, dir)
	c := apiClient(m.URL())
	srvCreateApp(t, c, "a", nil)
	out, _ := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
	srvWaitOperation(t, c, "a", aws.ToString(out.OperationId))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if driver.LiveClusters() != 0 {
		t.Fatal("a cluster outlived the server")
	}
	m = startMain(t, driver, dir)
	c = apiClient(m.URL())
	srvWaitStatus(t, c, "a", types.ApplicationStatusRunning)
	ops, _ := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String("a"), Operation: aws.String("Maintenance")})
	if len(ops.ApplicationOperationInfoList) != 1 || ops.ApplicationOperationInfoList[0].OperationStatus != types.OperationStatusSuccessful {
		t.Fatalf("maintenance operations %+v", ops.ApplicationOperationInfoList)
	}
	if len(driver.Running()) != 1 || driver.LiveClusters() != 1 {
		t.Fatalf("%d jobs, %d clusters", len(driver.Running()), driver.LiveClusters())
	}
}
