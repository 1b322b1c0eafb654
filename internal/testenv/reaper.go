package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	wrapOnce sync.Once
	wrapDir  string
)

// diesWithTest returns a folder of wrappers around the control plane in dir that run etcd and
// kube-apiserver with the parent-death signal (util-linux setpriv --pdeathsig KILL), so that a
// test process killed with SIGKILL takes its servers with it: envtest starts them in process
// groups of their own and never stops them if the test cannot run its cleanup. Where setpriv or
// Linux is missing, it returns dir unchanged.
func diesWithTest(dir string) string {
	wrapOnce.Do(func() { wrapDir = writeWrappers(dir) })
	return wrapDir
}

func writeWrappers(dir string) string {
	setpriv, err := exec.LookPath("setpriv")
	if runtime.GOOS != "linux" || err != nil {
		return dir
	}
	sum := sha256.Sum256([]byte(dir + "\x00" + setpriv))
	out := filepath.Join(os.TempDir(), "token-operator-testenv-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return dir
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		script := fmt.Sprintf("#!/bin/sh\nexec %s --pdeathsig KILL %s \"$@\"\n", setpriv, filepath.Join(dir, b))
		// Written to a temporary name and renamed: parallel test binaries may write it together.
		tmp := filepath.Join(out, fmt.Sprintf(".%s.%d", b, os.Getpid()))
		if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
			return dir
		}
		if err := os.Rename(tmp, filepath.Join(out, b)); err != nil {
			return dir
		}
	}
	link := filepath.Join(out, "kubectl")
	if _, err := os.Lstat(link); err != nil {
		if err := os.Symlink(filepath.Join(dir, "kubectl"), link); err != nil && !os.IsExist(err) {
			return dir
		}
	}
	return out
}

// Children returns the pids whose parent is pid, with their command names (from /proc).
func Children(t testing.TB, pid int) map[int]string {
	t.Helper()
	out := map[int]string{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to find child processes: %v", err)
	}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == pid {
			out[p] = s[strings.IndexByte(s, '(')+1 : i]
		}
	}
	return out
}

// Alive reports whether pid still runs (a zombie has exited).
func Alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z"
}
