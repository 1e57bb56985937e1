package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/labstack/echo/v4"
)

// bodyLimit rejects bodies larger than n bytes with a too_large error, whether or not the client
// declared the length.
func bodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return tooLarge(n)
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			return next(c)
		}
	}
}

func tooLarge(n int64) error {
	return &hindsight.Error{Code: hindsight.ETOOLARGE, Field: "body", Message: fmt.Sprintf("request body is larger than %d bytes", n)}
}

// decode reads a JSON object into v, rejecting unknown fields, trailing data and wrong types with an
// error that names the field.
func decode(c echo.Context, v any) error {
	b, err := io.ReadAll(c.Request().Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	} else if err != nil {
		return hindsight.Invalid("body", "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return hindsight.Invalid("body", "is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return hindsight.Invalid("body", "invalid JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			if te.Field == "" {
				return hindsight.Invalid("body", "want a JSON object, got %s", te.Value)
			}
			return hindsight.Invalid(te.Field, "must be %s, got %s", jsonType(te.Type.Kind().String()), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return hindsight.Invalid(name, "unknown field")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return hindsight.Invalid("body", "invalid JSON: unexpected end of input")
		}
		return hindsight.Invalid("body", "invalid JSON: %v", err)
	}
	if dec.More() {
		return hindsight.Invalid("body", "has data after the JSON object")
	}
	return nil
}

func jsonType(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}
