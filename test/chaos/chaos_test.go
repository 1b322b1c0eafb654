//go:build linux

// Package chaos runs the real kube-apiserver + etcd, `token-operator engine` and
// `token-operator manager` processes under a seeded kill storm and checks the token lifecycle's
// invariants from the outside (issue 15 items 4 and 5).
//
// CHAOS_SIZE=full (`make chaos`) runs the issue's size; the default is a size that fits `make
// test`. CHAOS_SEED=<n> replays a run (the seed is printed at the start).
package chaos

import (
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// size is how hard a run shakes the system.
type size struct {
	name                     string
	tokens                   int
	managerKills             int
	engineKills              int
	deletions, permChanges   int
	storm                    time.Duration // kills, deletions and changes happen inside this window
	settle                   time.Duration // how long everything may take to be Ready afterwards
	handoverTokens           int
	handoverDeletions        int
	handoverPermissionChange int
}

var sizes = map[string]size{
	// Fits `make test` on 2 cores: about a minute and a half for the storm test.
	"small": {name: "small", tokens: 45, managerKills: 4, engineKills: 1, deletions: 6, permChanges: 6,
		storm: 40 * time.Second, settle: 2 * time.Minute, handoverTokens: 24, handoverDeletions: 3, handoverPermissionChange: 3},
	// The kill storm.
	"full": {name: "full", tokens: 300, managerKills: 15, engineKills: 3, deletions: 50, permChanges: 30,
		storm: 150 * time.Second, settle: 4 * time.Minute, handoverTokens: 150, handoverDeletions: 20, handoverPermissionChange: 15},
}

// runSize is CHAOS_SIZE (small or full; default small).
func runSize(t *testing.T) size {
	t.Helper()
	name := os.Getenv("CHAOS_SIZE")
	if name == "" {
		name = "small"
	}
	s, ok := sizes[name]
	if !ok {
		t.Fatalf("CHAOS_SIZE=%q: want small or full", name)
	}
	return s
}

// seeded returns a random source from CHAOS_SEED, or a new seed, and logs how to replay it.
func seeded(t *testing.T) (*rand.Rand, uint64) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with CHAOS_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// event is one disturbance of the storm.
type event struct {
	at   time.Duration
	kind string // killManager, killEngine, restartAPIServer, delete, change
}

// schedule places the size's disturbances at random moments of the storm window.
func schedule(rnd *rand.Rand, s size) []event {
	var evs []event
	add := func(kind string, n int) {
		for range n {
			evs = append(evs, event{at: time.Duration(rnd.Int64N(int64(s.storm))), kind: kind})
		}
	}
	add("killManager", s.managerKills)
	add("killEngine", s.engineKills)
	add("restartAPIServer", 1)
	add("delete", s.deletions)
	add("change", s.permChanges)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	return evs
}

// TestKillStorm: tokens (a third rotating) in three namespaces; while the manager mints, renews,
// deletes and re-mints for permission changes, the manager is SIGKILLed repeatedly and the engine
// a few times, and kube-apiserver is restarted once. Afterwards every live token is Ready, every
// Secret's token authorizes its database, the engine holds no token status does not account
// for, nothing of deleted tokens, and no predecessor past its overlap.
func TestKillStorm(t *testing.T) {
	s := runSize(t)
	rnd, seed := seeded(t)
	c := newCluster(t)
	f := newFleet(c, rnd)

	mgr := c.startManager(false)
	start := time.Now()
	f.create(s.tokens)
	t.Logf("size %s: created %d tokens in %v", s.name, s.tokens, time.Since(start).Round(time.Millisecond))

	evs := schedule(rnd, s)
	stormStart := time.Now()
	counts := map[string]int{}
	var churn sync.WaitGroup
	unexpectedExits := 0
	for _, ev := range evs {
		if d := time.Until(stormStart.Add(ev.at)); d > 0 {
			time.Sleep(d)
		}
		if mgr.Exited() { // e.g. started while kube-apiserver was down: restarted, as a kubelet would
			unexpectedExits++
			t.Logf("%v: the manager exited on its own (see its log); starting another", time.Since(stormStart).Round(time.Millisecond))
			mgr = c.startManager(false)
		}
		switch ev.kind {
		case "killManager":
			mgr.Kill()
			// Mostly an immediate restart, sometimes an outage longer than the pending grace.
			down := time.Duration(rnd.Int64N(int64(3 * time.Second)))
			if rnd.IntN(5) == 0 {
				down = 25*time.Second + time.Duration(rnd.Int64N(int64(15*time.Second)))
			}
			time.Sleep(down)
			mgr = c.startManager(false)
			t.Logf("%v: SIGKILLed the manager, down %v (%d Secrets written)", ev.at.Round(time.Millisecond), down.Round(time.Millisecond), f.countSecrets())
		case "killEngine":
			down := time.Duration(rnd.Int64N(int64(5 * time.Second)))
			c.restartEngine(down)
			t.Logf("%v: SIGKILLed the engine, down %v", ev.at.Round(time.Millisecond), down.Round(time.Millisecond))
		case "restartAPIServer":
			c.restartAPIServer(3 * time.Second)
			t.Logf("%v: restarted kube-apiserver (etcd kept)", ev.at.Round(time.Millisecond))
		case "delete":
			churn.Go(f.deleteOne)
		case "change":
			churn.Go(f.changeOne)
		}
		counts[ev.kind]++
	}
	churn.Wait()
	t.Logf("storm over after %v: %v", time.Since(stormStart).Round(time.Second), counts)
	if mgr.Exited() {
		unexpectedExits++
		mgr = c.startManager(false)
	}
	_ = mgr

	f.waitSettled(s.settle)
	t.Logf("settled %v after the storm", time.Since(stormStart.Add(s.storm)).Round(time.Second))
	// Let at least one full rotation happen after the last kill: recoveries show up here.
	time.Sleep(5 * time.Second)
	g := f.check()
	t.Logf("seed %d, size %s: %d manager SIGKILLs, %d engine SIGKILLs, 1 kube-apiserver restart, %d deleted, %d changed permissions, %d manager exits on its own (restarted)",
		seed, s.name, counts["killManager"], counts["killEngine"], counts["delete"], counts["change"], unexpectedExits)
	f.report(g)
}
