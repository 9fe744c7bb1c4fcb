package engine

// Plans: the steps of each kind of operation, as data. An operation stores
// its plan when it is created, so a server that resumes it runs the plan it
// started with. Hooks of other components (verifying a restore point before
// a rollback stops the running job, putting external files back before a
// restore is submitted) are steps inserted into these lists.

// planStart starts a READY application: its job is built (and checked
// against the snapshot it restores) before a cluster starts.
func planStart() []string {
	return []string{StepCompile, StepStartCluster, StepSubmit, StepWaitRunning}
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

// planUpdate moves a RUNNING application to a new configuration with a
// warm cut-over: while the old job still runs, the target cluster starts
// and the new job is built on it (UpdateApplication checked the code, the
// graph and the state before); only then the old job stops with a
// savepoint and the new one is submitted to the warm cluster. Every step
// before the stop leaves the old job untouched if it fails. The cluster
// left is stopped last, after the new job's probation: its JVMs' shutdown
// does not compete with the new job's deployment and restore for the CPU.
func planUpdate(snapshots bool) []string {
	if !snapshots {
		// Without snapshots the new job starts without state.
		return []string{StepStartTargetCluster, StepCompile, StepCancelJob, StepSubmit, StepWaitRunning, StepStopPreviousCluster}
	}
	return []string{StepStartTargetCluster, StepCompile, StepStopWithSavepoint, StepKeepCheckpoint, StepCancelJob, StepResolveRestore,
		StepSubmit, StepWaitRunning, StepStopPreviousCluster}
}

// planRollback returns an application to an earlier version, restored from
// the newest snapshot taken at or before it, after verifying that snapshot
// can be restored, with a warm cut-over: the earlier version's cluster
// starts and its job is built while the current job runs; then that job is
// cancelled and the earlier one submitted.
func planRollback() []string {
	return []string{StepVerifyRestore, StepResolveRestore, StepStartTargetCluster, StepCompile, StepCancelJob, StepSubmit,
		StepWaitRunning, StepStopPreviousCluster}
}

// planRecover brings a failed job back on a fresh cluster from its newest
// checkpoint (kept as a snapshot first), or from the newest snapshot.
func planRecover() []string {
	return []string{StepKeepCheckpoint, StepCancelJob, StepStopCluster, StepResolveRestore, StepCompile, StepStartCluster, StepSubmit, StepWaitRunning}
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
		StepResolveRestore, StepCompile, StepStartCluster, StepSubmit, StepWaitRunning}
}

// planDelete ends the job and cluster of a deleted application.
func planDelete() []string {
	return []string{StepCancelJob, StepStopCluster, StepDeleteApplication}
}

// stopIndex is the index of the first step of plan that stops or cancels
// the application's running job, -1 if none does: a step before it that
// fails leaves that job untouched.
func stopIndex(plan []string) int {
	for i, s := range plan {
		if s == StepStopWithSavepoint || s == StepCancelJob || s == StepStopCluster {
			return i
		}
	}
	return -1
}

// replan replaces the steps after the current one (the operation goes on
// with another plan).
func replan(plan []string, step int, rest []string) []string {
	out := append([]string(nil), plan[:step+1]...)
	return append(out, rest...)
}
