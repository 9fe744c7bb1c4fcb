package awsapi

import (
	"context"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/model"
)

func (s *Server) listApplicationOperations(ctx context.Context, body []byte) (any, error) {
	var req model.ListApplicationOperationsRequest
	if err := decode("ListApplicationOperations", body, &req); err != nil {
		return nil, err
	}
	limit := limitOf(req.Limit)
	f := flinkplane.OperationFilter{Kind: model.Value(req.Operation), Status: string(model.Value(req.OperationStatus)),
		After: model.Value(req.NextToken), Limit: limit + 1}
	var ops []*flinkplane.Operation
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if _, err = tx.Application(req.ApplicationName); err != nil {
			return err
		}
		ops, err = tx.Operations(req.ApplicationName, f)
		return err
	}); err != nil {
		return nil, err
	}
	resp := &model.ListApplicationOperationsResponse{ApplicationOperationInfoList: []model.ApplicationOperationInfo{}}
	if len(ops) > limit {
		ops = ops[:limit]
		resp.NextToken = model.Ptr(ops[limit-1].ID)
	}
	for _, op := range ops {
		info := model.ApplicationOperationInfo{Operation: model.Ptr(op.Kind), OperationId: model.Ptr(op.ID),
			StartTime: model.Ptr(model.NewTimestamp(op.StartTime)), OperationStatus: model.Ptr(model.OperationStatus(op.Status))}
		if !op.EndTime.IsZero() {
			info.EndTime = model.Ptr(model.NewTimestamp(op.EndTime))
		}
		resp.ApplicationOperationInfoList = append(resp.ApplicationOperationInfoList, info)
	}
	return resp, nil
}

// operationCause is the FlinkplaneCause of an operation.
func operationCause(op *flinkplane.Operation) string {
	c := op.Cause
	if op.SavepointFailure != "" {
		if c != "" {
			c += " "
		}
		c += "The savepoint failed (" + op.SavepointFailure + "); the newest checkpoint was kept as the restore point"
		if op.SnapshotName != "" && op.SavepointLocation != "" {
			c += " (snapshot " + op.SnapshotName + ")"
		}
		c += "."
	}
	return c
}

// operationDetails is ApplicationOperationInfoDetails as flinkplane sends
// it: EndTime is left out while the operation is in progress (the model
// marks it required, the SDKs accept its absence), and the compatibility
// findings of the pre-flight check are added as an extra member that the
// AWS clients ignore.
type operationDetails struct {
	Operation                       string                                 `json:"Operation"`
	StartTime                       model.Timestamp                        `json:"StartTime"`
	EndTime                         *model.Timestamp                       `json:"EndTime,omitempty"`
	OperationStatus                 model.OperationStatus                  `json:"OperationStatus"`
	ApplicationVersionChangeDetails *model.ApplicationVersionChangeDetails `json:"ApplicationVersionChangeDetails,omitempty"`
	OperationFailureDetails         *model.OperationFailureDetails         `json:"OperationFailureDetails,omitempty"`
	CompatibilityFindings           []flinkplane.Finding                   `json:"FlinkplaneCompatibilityFindings,omitempty"`
	// Cause says why the service started a system operation (a recovery,
	// an automatic rollback, the stop of a job cancelled outside
	// flinkplane) or what a stop fell back to; System marks operations the
	// service started itself.
	Cause  string `json:"FlinkplaneCause,omitempty"`
	System bool   `json:"FlinkplaneSystemOperation,omitempty"`
	// StateMigration is an update's state migration (step MIGRATE_STATE):
	// the source snapshot, the migrated savepoint and what moved. Flat:
	// responses stay within the model's nesting depth.
	StateMigration *stateMigration `json:"FlinkplaneStateMigration,omitempty"`
}

// stateMigration is FlinkplaneStateMigration.
type stateMigration struct {
	Source    string `json:"Source"`
	Savepoint string `json:"Savepoint"`
	// Snapshot names the snapshot of the migrated savepoint, once written.
	Snapshot    string   `json:"Snapshot,omitempty"`
	OperatorIDs []string `json:"OperatorIds,omitempty"`
	// Operators says, per operator, its states (old serializer -> new type),
	// keys, values and timers.
	Operators    []string `json:"Operators,omitempty"`
	Keys         int64    `json:"Keys"`
	Values       int64    `json:"Values"`
	Timers       int64    `json:"Timers"`
	Seconds      float64  `json:"Seconds,omitempty"`
	ReadSeconds  float64  `json:"ReadSeconds,omitempty"`
	WriteSeconds float64  `json:"WriteSeconds,omitempty"`
	Notes        []string `json:"Notes,omitempty"`
}

func stateMigrationOf(m *flinkplane.StateMigration) *stateMigration {
	if m == nil {
		return nil
	}
	s := &stateMigration{Source: m.Source, Savepoint: m.Savepoint, Snapshot: m.Snapshot}
	if r := m.Result; r != nil {
		s.Seconds, s.ReadSeconds, s.WriteSeconds, s.Notes = r.Seconds, r.ReadSeconds, r.WriteSeconds, r.Notes
		for _, o := range r.Operators {
			s.OperatorIDs = append(s.OperatorIDs, o.ID)
			s.Keys += o.Keys
			s.Values += o.Values
			s.Timers += o.EventTimers + o.ProcessingTimers
			s.Operators = append(s.Operators, o.String())
		}
	}
	return s
}

type describeOperationResponse struct {
	ApplicationOperationInfoDetails *operationDetails `json:"ApplicationOperationInfoDetails"`
}

func (s *Server) describeApplicationOperation(ctx context.Context, body []byte) (any, error) {
	var req model.DescribeApplicationOperationRequest
	if err := decode("DescribeApplicationOperation", body, &req); err != nil {
		return nil, err
	}
	var op *flinkplane.Operation
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if _, err = tx.Application(req.ApplicationName); err != nil {
			return err
		}
		op, err = tx.Operation(req.ApplicationName, req.OperationId)
		return err
	}); err != nil {
		return nil, err
	}
	d := &operationDetails{Operation: op.Kind, StartTime: model.NewTimestamp(op.StartTime), OperationStatus: model.OperationStatus(op.Status),
		CompatibilityFindings: op.Findings, Cause: operationCause(op), System: op.System, StateMigration: stateMigrationOf(op.Migration)}
	if !op.EndTime.IsZero() {
		d.EndTime = model.Ptr(model.NewTimestamp(op.EndTime))
	}
	if op.VersionTo != 0 && op.VersionTo != op.VersionFrom {
		d.ApplicationVersionChangeDetails = &model.ApplicationVersionChangeDetails{ApplicationVersionUpdatedFrom: op.VersionFrom, ApplicationVersionUpdatedTo: op.VersionTo}
	}
	if op.ErrorInfo != "" || op.RollbackOperationID != "" {
		fd := &model.OperationFailureDetails{RollbackOperationId: nonEmpty(op.RollbackOperationID)}
		if op.ErrorInfo != "" {
			fd.ErrorInfo = &model.ErrorInfo{ErrorString: model.Ptr(op.ErrorInfo)}
		}
		d.OperationFailureDetails = fd
	}
	return &describeOperationResponse{ApplicationOperationInfoDetails: d}, nil
}
