package fake_test

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/tokenops/token-operator/internal/engine"
	"github.com/tokenops/token-operator/internal/engine/enginetest"
	"github.com/tokenops/token-operator/internal/engine/fake"
)

func TestContract(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		e := fake.New(fake.WithClock(clk), fake.WithDatabases())
		return enginetest.Harness{
			Engine: e,
			Unreachable: func(*testing.T) engine.Engine {
				down := fake.New()
				down.SetDown(true)
				return down
			},
			WrongCredentials: func(*testing.T) engine.Engine {
				refused := fake.New()
				refused.SetUnauthorized(true)
				return refused
			},
			Features: enginetest.Features{SystemTokens: true, Wildcard: true, NativeExpiry: true, RefusesUnknownDatabases: true},
			Authorize: func(_ *testing.T, token engine.Plaintext, rt engine.ResourceType, name string, a engine.Action) bool {
				return e.Allows(token.Reveal(), rt, name, a)
			},
			Advance:        clk.Step,
			CreateDatabase: func(_ *testing.T, name string) { e.AddDatabase(name) },
		}
	})
}
