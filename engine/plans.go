package engine

// Plans: the steps of each kind of operation, as data. An operation stores
// its plan when it is created, so a server that resumes it runs the plan it
// started with. Hooks of other components (verifying a restore point before
// a rollback stops the running job, putting external files back before a
// restore is submitted) are steps inserted into these lists.

// planStart starts a READY application.
func planStart() []string {
	return []string{StepStartCluster, StepSubmit, StepWaitRunning}
}

// planStop stops a RUNNING application: with snapshots, a stop with
// savepoint, or, if that fails, the newest checkpoint kept as the restore
// point.
func planStop(snapshots bool) []string {
	if !snapshots {
		return []string{StepCancelJob, StepStopCluster}
	}
	return []string{StepStopWithSavepoint, StepKeepCheckpoint, StepCancelJob, StepStopCluster}
}

// planForceStop cancels without a snapshot.
func planForceStop() []string {
	return []string{StepCancelJob, StepStopCluster}
}

// planUpdate moves a RUNNING application to a new configuration.
func planUpdate(snapshots bool) []string {
	if !snapshots {
		// Without snapshots the new job starts without state.
		return []string{StepCancelJob, StepStopCluster, StepStartCluster, StepSubmit, StepWaitRunning}
	}
	return []string{StepStopWithSavepoint, StepKeepCheckpoint, StepCancelJob, StepStopCluster, StepResolveRestore,
		StepStartCluster, StepSubmit, StepWaitRunning}
}

// planRollback returns an application to an earlier version, restored from
// the newest snapshot taken at or before it, after verifying that snapshot
// can be restored (before anything stops).
func planRollback() []string {
	return []string{StepVerifyRestore, StepCancelJob, StepStopCluster, StepResolveRestore, StepStartCluster, StepSubmit, StepWaitRunning}
}

// planRecover brings a failed job back on a fresh cluster from its newest
// checkpoint (kept as a snapshot first), or from the newest snapshot.
func planRecover() []string {
	return []string{StepKeepCheckpoint, StepCancelJob, StepStopCluster, StepResolveRestore, StepStartCluster, StepSubmit, StepWaitRunning}
}

// planReplaceTaskManagers replaces lost TaskManagers of a cluster whose
// JobManager runs; Flink restarts the job on them from its checkpoint.
func planReplaceTaskManagers() []string {
	return []string{StepReplaceTaskManagers, StepWaitFailover, StepWaitRunning}
}

// planJobEnded brings an application whose job ended outside flinkplane
// (cancelled through Flink's REST API, or finished) to READY, keeping its
// newest checkpoint as the restore point.
func planJobEnded() []string {
	return []string{StepKeepCheckpoint, StepCancelJob, StepStopCluster}
}

// planMaintenance suspends a RUNNING application across a restart of the
// server and brings it back from exactly the state it stopped with.
func planMaintenance() []string {
	return []string{StepStopWithSavepoint, StepKeepCheckpoint, StepCancelJob, StepStopCluster, StepSuspend,
		StepResolveRestore, StepStartCluster, StepSubmit, StepWaitRunning}
}

// planDelete ends the job and cluster of a deleted application.
func planDelete() []string {
	return []string{StepCancelJob, StepStopCluster, StepDeleteApplication}
}

// replan replaces the steps after the current one (the operation goes on
// with another plan).
func replan(plan []string, step int, rest []string) []string {
	out := append([]string(nil), plan[:step+1]...)
	return append(out, rest...)
}
