//go:build !linux

package localcluster

import "syscall"

// childAttr: without Linux's parent-death signal a killed `dev` can leave its children running;
// the state-folder lock (internal/cli/devlock.go) still keeps a second `dev` from sharing them.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
