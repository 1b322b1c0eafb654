package testenv

import (
	"os/exec"
	"syscall"
	"testing"
)

// Proc is a test's child process in a process group of its own that the kernel kills when the
// test binary dies (Pdeathsig) and that is SIGKILLed, group and all, at the test's cleanup: a
// killed test leaves no server behind.
type Proc struct {
	Cmd  *exec.Cmd
	done chan struct{}
}

// StartProc starts cmd, its output already set by the caller, as a Proc. closeOut, when not nil,
// runs once the process has ended (or failed to start): it closes the output file.
func StartProc(t testing.TB, cmd *exec.Cmd, closeOut func()) *Proc {
	t.Helper()
	if closeOut == nil {
		closeOut = func() {}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		closeOut()
		t.Fatal(err)
	}
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); closeOut(); close(p.done) }()
	t.Cleanup(p.Kill)
	return p
}

// Kill SIGKILLs the process group and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// StartLogged starts cmd as a Proc with its output kept, and shown in the test's log as name's
// output if the test failed.
func StartLogged(t testing.TB, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	logs := &Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// Registered before StartProc's Kill, so it runs after it: the output is complete.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs.String())
		}
	})
	return StartProc(t, cmd, nil)
}
