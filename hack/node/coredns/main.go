// Command coredns is CoreDNS with only the plugins the test node's cluster DNS uses (docs/node.md):
// the upstream main (coremain) with a short directive list instead of core/plugin's ~60 plugins,
// the way CoreDNS documents building with a custom plugin set. Cloud DNS backends would add
// hundreds of modules and minutes of build for nothing the node serves.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// directives is plugin.cfg's order, restricted to the plugins imported above.
var directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
