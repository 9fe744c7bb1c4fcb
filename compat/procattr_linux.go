package compat

import "syscall"

// procAttr starts the dry compile's JVM in a process group of its own
// (killed with everything the job's main() started) that the kernel kills
// when flinkplane dies: a control plane killed during a pre-flight leaves
// no JVM behind.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
