//go:build !linux

package compat

import "syscall"

// procAttr starts a helper JVM in a process group of its own. (Only Linux
// has a parent-death signal; elsewhere a JVM outlives a killed flinkplane
// until its timeout.)
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
