package hindsight

import (
	"context"
	"fmt"
)

// Space identifies a vector space: the embedder's name, its version and the vectors' dimension.
// Vectors of different spaces are never compared; a change of space re-embeds.
type Space struct {
	Name    string
	Version string
	Dim     int
}

// String renders the space as name@version/dim, the form stored with every vector.
func (s Space) String() string { return fmt.Sprintf("%s@%s/%d", s.Name, s.Version, s.Dim) }

// Embedder turns texts into vectors of one space. Embed returns one L2-normalised vector of
// Space().Dim values for each text, in order; it must be safe for concurrent use.
type Embedder interface {
	Space() Space
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}
