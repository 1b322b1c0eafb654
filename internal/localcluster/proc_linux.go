package localcluster

import "syscall"

// childAttr: the kernel sends SIGKILL to the child when the thread that started it dies, which
// for a Go program is when the process dies (Go does not end threads it did not lock).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
