package hindsight

import (
	"strconv"
	"time"
)

// Run statuses.
const (
	RunRunning   = "running"   // under way, or its process died (see FinishedAt)
	RunSucceeded = "succeeded" // every record stored
	RunPartial   = "partial"   // some records rejected, the rest stored
	RunFailed    = "failed"    // the run stopped with an error
)

// Run is the record of one ingest run.
type Run struct {
	ID         string      `json:"run_id"`
	StartedAt  time.Time   `json:"started_at"`
	FinishedAt time.Time   `json:"finished_at,omitzero"`
	Status     string      `json:"status"`
	Paths      []string    `json:"paths"`
	Read       int         `json:"read"`
	Inserted   int         `json:"inserted"`
	Updated    int         `json:"updated"`
	Unchanged  int         `json:"unchanged"`
	Deleted    int         `json:"deleted"`
	Rejected   []Rejection `json:"rejected"`
	Error      string      `json:"error,omitempty"`
	// Tenant is the run's tenant option: the tenant whose records alone it accepted (an upload
	// through the API always has one). Empty: an operator's run, which may write global knowledge
	// and any tenant's threats.
	Tenant string `json:"tenant,omitempty"`
}

// Rejection is one input record that was not stored, and why.
type Rejection struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Field string `json:"field"`
	Error string `json:"error"`
}

// String renders the rejection as file:line: field: error.
func (r Rejection) String() string {
	s := r.File
	if r.Line > 0 {
		s += ":" + strconv.Itoa(r.Line)
	}
	if r.Field != "" {
		s += ": " + r.Field
	}
	return s + ": " + r.Error
}
