package hindsight

import "context"

// Prompt is what a drafter asks of a language model: a system message with the rules and a user
// message with the fenced sources and the task.
type Prompt struct {
	System string
	User   string
	// MaxTokens caps the answer's length; 0 leaves it to the model.
	MaxTokens int
}

// Generation is a language model's answer.
type Generation struct {
	Text         string
	PromptTokens int // as counted by the model; 0 if it did not say
	OutputTokens int
}

// Generator writes text for a prompt: the seam between drafting and a language model. Generate
// returns the whole answer; onToken, when not nil, receives each piece as it arrives. Errors that a
// caller can act on are *Error with EUNAVAILABLE (server down, model missing, timeout). It must be
// safe for concurrent use.
type Generator interface {
	// Name identifies the model as drafts record it, e.g. "ollama:llama3.1:8b".
	Name() string
	// ContextTokens is the model's context window in tokens, for fitting sources into a prompt.
	ContextTokens() int
	Generate(ctx context.Context, p Prompt, onToken func(string)) (Generation, error)
}
