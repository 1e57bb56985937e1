package sample_test

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/hindsightsec/hindsight/sample"
)

func ExampleGenerate() {
	c, err := sample.Generate(sample.Config{Threats: 100, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(c.Threats), "threats,", len(c.Judgments), "judgments")
	fmt.Println(c.Threats[0].ID, c.Threats[0].Tenant)
	// Output:
	// 100 threats, 100 judgments
	// THR-2022-0001 acme
}

func ExampleFiles() {
	b, err := fs.ReadFile(sample.Files(), sample.ThreatsFile)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Count(string(b), "\n"), "threats in the committed sample")
	// Output:
	// 240 threats in the committed sample
}
