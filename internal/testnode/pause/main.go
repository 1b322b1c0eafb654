// Command pause is the test node's sandbox image (testnode.SandboxImage): it holds a pod's
// namespaces and exits on SIGTERM or SIGINT, as registry.k8s.io/pause does. The node cannot pull
// that image (no registry), so it is built here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
