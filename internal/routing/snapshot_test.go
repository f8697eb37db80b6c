package routing

import (
	"testing"

	"github.com/trunkline/trunkline/internal/model"
)

func TestSnapshotExtension(t *testing.T) {
	tab := NewTable()
	if _, ok := tab.Extension("1001"); ok {
		t.Fatal("empty table found 1001")
	}
	tab.Store(NewSnapshot(Config{Extensions: []model.Extension{{Number: "1001", Password: "secret1"}, {Number: "1002", Disabled: true}}}))
	tests := []struct {
		number string
		want   bool
	}{{"1001", true}, {"1002", false}, {"1003", false}, {"", false}}
	for _, tt := range tests {
		if _, ok := tab.Extension(tt.number); ok != tt.want {
			t.Errorf("Extension(%q) = %v, want %v", tt.number, ok, tt.want)
		}
	}
}

func TestWithExtension(t *testing.T) {
	s := NewSnapshot(Config{Extensions: []model.Extension{{Number: "1001"}, {Number: "1002"}}})
	add := s.WithExtension("1003", &model.Extension{Number: "1003"})
	del := add.WithExtension("1001", nil)
	off := del.WithExtension("1002", &model.Extension{Number: "1002", Disabled: true})
	tests := []struct {
		snap   *Snapshot
		number string
		want   bool
	}{
		{s, "1003", false}, {add, "1003", true}, // the original is never changed
		{add, "1001", true}, {del, "1001", false},
		{del, "1002", true}, {off, "1002", false},
		{off, "1003", true},
	}
	for i, tt := range tests {
		if _, ok := tt.snap.Extension(tt.number); ok != tt.want {
			t.Errorf("case %d: Extension(%s) = %v, want %v", i, tt.number, ok, tt.want)
		}
	}
}
