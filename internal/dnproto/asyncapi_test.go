package dnproto

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestAsyncAPIMatchesSubjects checks api/asyncapi.yaml against the subject
// constants: every subject documented, nothing documented that is not one.
func TestAsyncAPIMatchesSubjects(t *testing.T) {
	b, err := os.ReadFile("../../api/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsyncAPI string                    `yaml:"asyncapi"`
		Channels map[string]map[string]any `yaml:"channels"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AsyncAPI == "" {
		t.Fatal("not an AsyncAPI document")
	}
	var documented []string
	for ch, ops := range doc.Channels {
		documented = append(documented, ch)
		_, pub := ops["publish"]
		_, sub := ops["subscribe"]
		if !pub && !sub {
			t.Fatalf("channel %s documents no message", ch)
		}
	}
	want := slices.Clone(AllSubjects)
	slices.Sort(want)
	slices.Sort(documented)
	if !slices.Equal(documented, want) {
		t.Fatalf("asyncapi.yaml documents %v, the code has %v", documented, want)
	}
}
