package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

func binding(aor, contact string, expires time.Time) model.Binding {
	return model.Binding{
		AOR: aor, Contact: contact, Source: "192.0.2.10:5062", Transport: "udp",
		Expires: expires, CallID: "reg-" + aor, CSeq: 42, UserAgent: "Linphone/5.2", Q: 0.8,
		UpdatedAt: time.Date(2026, 4, 30, 10, 0, 0, 7, time.UTC),
	}
}

func cdr(callID string) model.CDR {
	start := time.Date(2026, 4, 30, 10, 0, 0, 123456789, time.UTC)
	answer := start.Add(3 * time.Second)
	return model.CDR{
		CallID: callID, Caller: "1001", Callee: "+442071234567", Direction: "outbound",
		Trunk: "acme", StartTime: start, AnswerTime: &answer, EndTime: start.Add(65 * time.Second),
		Duration: 65, BillSec: 62, Disposition: model.DispAnswered, HangupBy: model.PartyCallee,
		HangupCause: "BYE", SIPCode: 200, RTPCallerToCallee: 3100, RTPCalleeToCaller: 3099,
	}
}

func cdrIDs(list []model.CDR) []int64 {
	ids := make([]int64, len(list))
	for i, c := range list {
		ids[i] = c.ID
	}
	return ids
}

func checkExtension(t *testing.T, got, want model.Extension) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("extension %s times = %v, %v; want %v, %v",
			want.Number, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("extension = %+v; want %+v", got, want)
	}
}

func checkBinding(t *testing.T, got, want model.Binding) {
	t.Helper()
	if !got.Expires.Equal(want.Expires) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("binding %s times = %v, %v; want %v, %v",
			want.Contact, got.Expires, got.UpdatedAt, want.Expires, want.UpdatedAt)
	}
	got.Expires, got.UpdatedAt, want.Expires, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("binding = %+v; want %+v", got, want)
	}
}

func checkCDR(t *testing.T, got, want model.CDR) {
	t.Helper()
	if !got.StartTime.Equal(want.StartTime) || !got.EndTime.Equal(want.EndTime) {
		t.Errorf("cdr %d start/end = %v, %v; want %v, %v",
			want.ID, got.StartTime, got.EndTime, want.StartTime, want.EndTime)
	}
	switch {
	case (got.AnswerTime == nil) != (want.AnswerTime == nil):
		t.Errorf("cdr %d answer time = %v; want %v", want.ID, got.AnswerTime, want.AnswerTime)
	case got.AnswerTime != nil && !got.AnswerTime.Equal(*want.AnswerTime):
		t.Errorf("cdr %d answer time = %v; want %v", want.ID, *got.AnswerTime, *want.AnswerTime)
	}
	got.StartTime, got.EndTime, got.AnswerTime = time.Time{}, time.Time{}, nil
	want.StartTime, want.EndTime, want.AnswerTime = time.Time{}, time.Time{}, nil
	if got != want {
		t.Errorf("cdr = %+v; want %+v", got, want)
	}
}

// checkContacts asserts the stored bindings' contacts, in list order.
func checkContacts(t *testing.T, s store.Store, want ...string) {
	t.Helper()
	list, err := s.ListBindings(t.Context())
	if err != nil {
		t.Fatalf("ListBindings: %v", err)
	}
	var got []string
	for _, b := range list {
		got = append(got, b.Contact)
	}
	if len(got) != len(want) {
		t.Fatalf("contacts = %v; want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("contacts = %v; want %v", got, want)
		}
	}
}

// putBinding stores one binding, merged into its AOR's others (what a flush of a
// refreshed AOR does).
func putBinding(ctx context.Context, s store.Store, b model.Binding) error {
	return s.SaveBindings(ctx, []model.AORBindings{{AOR: b.AOR, Bindings: []model.Binding{b}}})
}
