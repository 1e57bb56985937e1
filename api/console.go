package api

import (
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The review console: one page and its script and style, over the same API a script would use.
// The page holds no data; it asks the API with the key the reviewer enters.
//
//go:embed console/index.html console/console.js console/console.css
var consoleFiles embed.FS

// consolePolicy lets the console run only its own script and style and talk only to this
// server: text a store holds can be attacker-made, and the page must never run any of it.
const consolePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// consoleFile serves one of the console's files.
func consoleFile(name, contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := consoleFiles.ReadFile("console/" + name)
		if err != nil {
			return err
		}
		h := c.Response().Header()
		h.Set("Content-Security-Policy", consolePolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		return c.Blob(http.StatusOK, contentType, b)
	}
}
