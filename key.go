package hindsight

import "time"

// Role is what an API key may do.
type Role string

// Roles, least privileged first.
const (
	RoleReader   Role = "reader"   // search, read drafts, create drafts
	RoleReviewer Role = "reviewer" // and review drafts
	RoleAdmin    Role = "admin"    // and ingest
)

// Roles lists the roles, least privileged first.
var Roles = []Role{RoleReader, RoleReviewer, RoleAdmin}

// Allows reports whether a key with role r may act as role need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && r.rank() > 0 }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r.rank() > 0 }

func (r Role) rank() int {
	for i, v := range Roles {
		if r == v {
			return i + 1
		}
	}
	return 0
}

// Key is an API key's record. The secret itself is shown once at creation and only its hash is
// stored.
type Key struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}
