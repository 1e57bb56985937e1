module github.com/hindsightsec/hindsight/bench/ann

go 1.26.8

replace github.com/hindsightsec/hindsight => ../..

require (
	github.com/coder/hnsw v0.6.1
	github.com/hindsightsec/hindsight v0.0.0-00010101000000-000000000000
	github.com/philippgille/chromem-go v0.7.0
)

require (
	github.com/chewxy/math32 v1.11.0 // indirect
	github.com/google/renameio v1.0.1 // indirect
	github.com/viterin/partial v1.1.0 // indirect
	github.com/viterin/vek v0.4.2 // indirect
	golang.org/x/exp v0.0.0-20250218142911-aa4b98e5adaa // indirect
	golang.org/x/sys v0.49.0 // indirect
)
