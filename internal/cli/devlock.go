package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// devLockFile in the state folder is held (flock) by the running `token-operator dev`. The
// kernel drops the lock when the process dies, however it dies, so a stale file never blocks.
const devLockFile = "dev.lock"

// errStateInUse says another dev owns the state folder.
var errStateInUse = errors.New("state folder in use")

// lockStateDir takes the state folder for this process, or names the instance that holds it.
// Two instances on one folder would run two etcds on one data folder and two engines on one store.
func lockStateDir(state string) (release func(), err error) {
	path := filepath.Join(state, devLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		_ = f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		}
		return nil, fmt.Errorf("%w: %s is held by token-operator dev (%s); stop that instance (Ctrl-C) or pass another --state-dir", errStateInUse, state, who)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = fmt.Fprintf(f, "pid %d, started %s", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
		_ = f.Sync()
	}
	return func() { _ = f.Truncate(0); _ = f.Close() }, nil
}
