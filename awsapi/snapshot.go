package awsapi

import (
	"context"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
)

func snapshotDetails(sn *flinkplane.Snapshot) model.SnapshotDetails {
	d := model.SnapshotDetails{SnapshotName: sn.Name, SnapshotStatus: model.SnapshotStatus(sn.Status), ApplicationVersionId: sn.VersionID,
		SnapshotCreationTimestamp: model.Ptr(model.NewTimestamp(sn.CreateTime))}
	if sn.Runtime != "" {
		d.RuntimeEnvironment = model.Ptr(model.RuntimeEnvironment(sn.Runtime))
	}
	return d
}

func (s *Server) createApplicationSnapshot(ctx context.Context, body []byte) (any, error) {
	var req model.CreateApplicationSnapshotRequest
	if err := decode("CreateApplicationSnapshot", body, &req); err != nil {
		return nil, err
	}
	if _, err := s.Engine.CreateApplicationSnapshot(ctx, req.ApplicationName, req.SnapshotName); err != nil {
		return nil, err
	}
	return &model.CreateApplicationSnapshotResponse{}, nil
}

func (s *Server) describeApplicationSnapshot(ctx context.Context, body []byte) (any, error) {
	var req model.DescribeApplicationSnapshotRequest
	if err := decode("DescribeApplicationSnapshot", body, &req); err != nil {
		return nil, err
	}
	var sn *flinkplane.Snapshot
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if _, err = tx.Application(req.ApplicationName); err != nil {
			return err
		}
		sn, err = tx.Snapshot(req.ApplicationName, req.SnapshotName)
		return err
	}); err != nil {
		return nil, err
	}
	d := snapshotDetails(sn)
	return &model.DescribeApplicationSnapshotResponse{SnapshotDetails: &d}, nil
}

func (s *Server) listApplicationSnapshots(ctx context.Context, body []byte) (any, error) {
	var req model.ListApplicationSnapshotsRequest
	if err := decode("ListApplicationSnapshots", body, &req); err != nil {
		return nil, err
	}
	limit := limitOf(req.Limit)
	var snaps []*flinkplane.Snapshot
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if _, err = tx.Application(req.ApplicationName); err != nil {
			// The model declares no ResourceNotFound here.
			return flinkplane.Errorf(flinkplane.EINVALID, "Application %s not found.", req.ApplicationName)
		}
		snaps, err = tx.Snapshots(req.ApplicationName, model.Value(req.NextToken), limit+1)
		return err
	}); err != nil {
		return nil, err
	}
	resp := &model.ListApplicationSnapshotsResponse{SnapshotSummaries: []model.SnapshotDetails{}}
	if len(snaps) > limit {
		snaps = snaps[:limit]
		resp.NextToken = model.Ptr(snaps[limit-1].Name)
	}
	for _, sn := range snaps {
		resp.SnapshotSummaries = append(resp.SnapshotSummaries, snapshotDetails(sn))
	}
	return resp, nil
}

func (s *Server) deleteApplicationSnapshot(ctx context.Context, body []byte) (any, error) {
	var req model.DeleteApplicationSnapshotRequest
	if err := decode("DeleteApplicationSnapshot", body, &req); err != nil {
		return nil, err
	}
	if _, err := s.Engine.DeleteApplicationSnapshot(ctx, req.ApplicationName, req.SnapshotName, req.SnapshotCreationTimestamp.Time); err != nil {
		return nil, err
	}
	return &model.DeleteApplicationSnapshotResponse{}, nil
}
