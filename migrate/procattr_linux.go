package migrate

import "syscall"

// procAttr starts a helper JVM in a process group of its own (killed with
// everything it started) that the kernel kills when flinkplane dies: a
// control plane killed during a migration leaves no JVM behind, and the
// MIGRATE_STATE step it resumes on restart runs the helper again into a new
// temporary directory.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
