package pattern

import (
	"strings"
	"testing"
)

func TestCompileMatch(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"NXXNXXXXXX", []string{"2125551234", "9999999999"}, []string{"1125551234", "212555123", "21255512345", "2120551234"}},
		{"1NXXNXXXXXX", []string{"12125551234"}, []string{"2125551234"}},
		{"011.", []string{"011442071234567", "0114"}, []string{"011", "01144a"}},
		{"00!", []string{"00", "0044"}, []string{"0", "01"}},
		{"[1-5]XX", []string{"100", "599", "355"}, []string{"600", "099", "10"}},
		{"[135-7]", []string{"1", "3", "5", "6", "7"}, []string{"2", "4", "8", "0"}},
		{"zxx", []string{"100", "999"}, []string{"099"}},
		{"nx", []string{"20", "99"}, []string{"10"}},
		{"+44.", []string{"+442071234567"}, []string{"442071234567", "+44"}},
		{"*67.", []string{"*672125551234"}, []string{"672125551234"}},
		{"#", []string{"#"}, []string{"*"}},
		{"911", []string{"911"}, []string{"9110", "91"}},
		{`^\+44`, []string{"+442071234567", "+44"}, []string{"442071234567"}},
		{`^(00|\+)49[1-9][0-9]+$`, []string{"004930123", "+4930123"}, []string{"4930123", "+490123"}},
		{"^07[1-57-9]", []string{"07700900123"}, []string{"07600900123"}},
	}
	for _, tt := range tests {
		p, err := Compile(tt.pattern)
		if err != nil {
			t.Errorf("Compile(%q): %v", tt.pattern, err)
			continue
		}
		for _, n := range tt.yes {
			if !p.Match(n) {
				t.Errorf("%q should match %q", tt.pattern, n)
			}
		}
		for _, n := range tt.no {
			if p.Match(n) {
				t.Errorf("%q should not match %q", tt.pattern, n)
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ pattern, err string }{
		{"", "empty pattern"},
		{strings.Repeat("X", 129), "longer than 128 characters"},
		{"1+2", "'+' only allowed first (position 2)"},
		{"[1-5XX", "unclosed '[' at position 1"},
		{"[]", "bad set at position 1: empty"},
		{"[a]", `bad set at position 1: 'a' is not a digit`},
		{"[5-1]", "bad set at position 1: bad range 5-1"},
		{"12a", `unexpected 'a' at position 3`},
		{"1 2", `unexpected ' ' at position 2`},
		{"^(1", "bad regular expression: missing closing ): `^(1`"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.pattern)
		if err == nil || err.Error() != tt.err {
			t.Errorf("Compile(%q) = %v; want %q", tt.pattern, err, tt.err)
		}
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		err  string
	}{
		{"+4930100100", Exact, ""},
		{"1001", Exact, ""},
		{"4930100100-4930100199", Range, ""},
		{"+4930100100-4930100199", Range, ""},
		{"1000-1099", Range, ""},
		{"1000-999", 0, "range bounds must have the same number of digits"},
		{"1099-1000", 0, "range start is after its end"},
		{"[1-5]XX", Dial, ""},
		{"^10", Dial, ""},
		{"10-1a", 0, `unexpected '-' at position 3`},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseSpec(%q) error %v; want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || s.Kind != tt.kind {
			t.Errorf("ParseSpec(%q) = %+v, %v; want kind %d", tt.in, s, err, tt.kind)
		}
	}
	r, _ := ParseSpec("1000-1099")
	for n, want := range map[string]bool{"1000": true, "1050": true, "1099": true, "1100": false, "999": false, "10a0": false} {
		if r.InRange(n) != want {
			t.Errorf("InRange(%q) = %v", n, !want)
		}
	}
}

func FuzzCompileMatch(f *testing.F) {
	for _, s := range []string{"NXXNXXXXXX", "011.", "[1-5]XX", "^\\+44", "+1!", "[", "^(", "*#"} {
		f.Add(s, "+442071234567")
	}
	f.Fuzz(func(t *testing.T, pat, number string) {
		p, err := Compile(pat)
		if err != nil {
			if p != nil {
				t.Fatal("pattern with error")
			}
			return
		}
		_ = p.Match(number)
		if p.String() != pat {
			t.Fatalf("String() = %q", p.String())
		}
		// A dial pattern made only of digits matches exactly itself.
		if IsNumber(pat) && !strings.HasPrefix(pat, "+") && !p.Match(pat) {
			t.Fatalf("%q does not match itself", pat)
		}
		_, _ = ParseSpec(pat)
	})
}
