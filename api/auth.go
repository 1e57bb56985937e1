package api

import (
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/labstack/echo/v4"
)

const keyContext = "hindsight.key"

// authenticate resolves the bearer key to its tenant and role; no key or a wrong one is 401.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="hindsight"`)
			return hindsight.Errorf(hindsight.EUNAUTHORIZED, "missing API key: send Authorization: Bearer KEY (create one with hindsight keys create)")
		}
		k, err := s.store.FindKeyBySecret(c.Request().Context(), strings.TrimSpace(secret))
		if err != nil {
			if hindsight.ErrorCode(err) == hindsight.EUNAUTHORIZED {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="hindsight", error="invalid_token"`)
			}
			return err
		}
		c.Set(keyContext, k)
		return next(c)
	}
}

// require lets through only keys whose role allows need.
func require(need hindsight.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if k := keyOf(c); !k.Role.Allows(need) {
				return hindsight.Errorf(hindsight.EFORBIDDEN, "this API key's role %q may not do this; it needs %q", k.Role, need)
			}
			return next(c)
		}
	}
}

func keyOf(c echo.Context) *hindsight.Key {
	return c.Get(keyContext).(*hindsight.Key)
}
