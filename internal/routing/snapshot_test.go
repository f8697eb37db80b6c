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
