package api

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// keyLimiter keeps one token bucket per API key.
type keyLimiter struct {
	rps   rate.Limit
	burst int
	mu    sync.Mutex
	byKey map[string]*rate.Limiter
}

func newKeyLimiter(rps float64) *keyLimiter {
	return &keyLimiter{rps: rate.Limit(rps), burst: max(1, int(math.Ceil(2*rps))), byKey: map[string]*rate.Limiter{}}
}

// limit rejects a key's request with rate_limited once its bucket is empty, telling the client when
// to try again. It runs after authentication.
func (l *keyLimiter) limit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		k := keyOf(c)
		l.mu.Lock()
		lim := l.byKey[k.ID]
		if lim == nil {
			lim = rate.NewLimiter(l.rps, l.burst)
			l.byKey[k.ID] = lim
		}
		l.mu.Unlock()
		r := lim.Reserve()
		if d := r.Delay(); d > 0 {
			r.Cancel()
			secs := int(math.Ceil(d.Seconds()))
			c.Response().Header().Set("Retry-After", fmt.Sprint(secs))
			return hindsight.Errorf(hindsight.ERATELIMIT, "too many requests for this API key; retry in %s", time.Duration(secs)*time.Second)
		}
		return next(c)
	}
}
