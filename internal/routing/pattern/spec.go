package pattern

import (
	"errors"
	"strings"
)

// Kind says how a Spec matches.
type Kind int

const (
	Exact Kind = iota // one number, digits with an optional leading +
	Range             // "4930100100-4930100199": digit strings of equal length, inclusive
	Dial              // a dial pattern or regular expression (Compile)
)

// Spec is a parsed number condition of a rule: one number, a range, or a pattern.
type Spec struct {
	Kind Kind
	// Number is the Exact number as written; Lo and Hi the Range bounds (digits).
	Number, Lo, Hi string
	Pattern        *Pattern
}

// ParseSpec reads s as an exact number ("+4930100100", "1001"), a range of numbers
// of equal length ("1000-1099", "+4930100100-+4930100199" is not allowed: write
// the + on neither bound or on the first only) or else a pattern (Compile).
func ParseSpec(s string) (Spec, error) {
	if IsNumber(s) {
		return Spec{Kind: Exact, Number: s}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok && IsNumber(lo) && hi != "" && isDigits(hi) {
		lo = strings.TrimPrefix(lo, "+")
		switch {
		case len(lo) != len(hi):
			return Spec{}, errors.New("range bounds must have the same number of digits")
		case lo > hi:
			return Spec{}, errors.New("range start is after its end")
		}
		return Spec{Kind: Range, Lo: lo, Hi: hi}, nil
	}
	p, err := Compile(s)
	if err != nil {
		return Spec{}, err
	}
	return Spec{Kind: Dial, Pattern: p}, nil
}

// InRange reports whether digits lies within the range of a Range spec.
func (s Spec) InRange(digits string) bool {
	return len(digits) == len(s.Lo) && isDigits(digits) && digits >= s.Lo && digits <= s.Hi
}

// IsNumber reports whether s is 1-32 digits with an optional leading +.
func IsNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	return s != "" && len(s) <= 32 && isDigits(s)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
