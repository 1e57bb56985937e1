package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/hindsightsec/hindsight"
	"github.com/labstack/echo/v4"
)

// statusOf maps error codes to HTTP statuses; this is the only place that does.
var statusOf = map[string]int{
	hindsight.EINVALID:      http.StatusBadRequest,
	hindsight.ETOOLARGE:     http.StatusBadRequest,
	hindsight.ENOTFOUND:     http.StatusNotFound,
	hindsight.ECONFLICT:     http.StatusConflict,
	hindsight.EUNAUTHORIZED: http.StatusUnauthorized,
	hindsight.EFORBIDDEN:    http.StatusForbidden,
	hindsight.ERATELIMIT:    http.StatusTooManyRequests,
	hindsight.EUNAVAILABLE:  http.StatusServiceUnavailable,
	hindsight.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes an error: its code, a message safe to show, and the field it concerns
// (empty when none).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// handleError renders every error the same way. Internal errors are logged with their details and
// shown only as "internal error".
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		// Errors raised by echo itself (no such route, method not allowed).
		code := hindsight.EINVALID
		switch he.Code {
		case http.StatusNotFound:
			code = hindsight.ENOTFOUND
		case http.StatusMethodNotAllowed:
			code = "method_not_allowed"
		case http.StatusUnauthorized:
			code = hindsight.EUNAUTHORIZED
		}
		if he.Code >= 500 {
			s.logger.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "error", err)
			code = hindsight.EINTERNAL
		}
		msg, _ := he.Message.(string)
		if msg == "" {
			msg = http.StatusText(he.Code)
		}
		c.JSON(he.Code, ErrorBody{ErrorDetail{Code: code, Message: msg}})
		return
	}
	if errors.Is(err, context.DeadlineExceeded) && hindsight.ErrorCode(err) == hindsight.EINTERNAL {
		// The request's own time ran out: the service is too slow now, not broken.
		err = &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "the request took longer than the server allows; try again", Err: err}
	}
	code := hindsight.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.logger.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "code", code, "error", err)
	}
	c.JSON(status, ErrorBody{ErrorDetail{Code: code, Message: hindsight.ErrorMessage(err), Field: hindsight.ErrorField(err)}})
}
