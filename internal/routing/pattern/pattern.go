// Package pattern compiles the number patterns of routing rules: FreePBX-style dial
// patterns ("NXXNXXXXXX", "011.", "[1-5]XX") and, for a pattern that starts with
// '^', Go regular expressions (RE2 syntax). It is a leaf package (standard library
// only) so that both model validation and routing use the same compiler.
package pattern

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// MaxLen is the longest pattern accepted.
const MaxLen = 128

// Pattern is a compiled pattern; the zero value matches nothing. Safe for
// concurrent use.
type Pattern struct {
	src string
	re  *regexp.Regexp
}

// Compile compiles a pattern.
//
// Dial-pattern syntax (the whole number must match):
//
//	X        any digit 0-9        Z   1-9        N   2-9
//	[1-5]    one digit from a set of digits and ranges, e.g. [0135-7]
//	.        one or more further characters (digits, *, #)
//	!        zero or more further characters
//	0-9 * #  themselves; + only as the first character
//
// X, Z and N may be written in lower case. A pattern starting with '^' is a Go
// regular expression (https://golang.org/s/re2syntax) anchored at the start; it
// matches the whole number only if it ends with '$'.
func Compile(s string) (*Pattern, error) {
	switch {
	case s == "":
		return nil, errors.New("empty pattern")
	case len(s) > MaxLen:
		return nil, fmt.Errorf("longer than %d characters", MaxLen)
	case s[0] == '^':
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("bad regular expression: %s", reError(err))
		}
		return &Pattern{src: s, re: re}, nil
	}
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '*' || c == '#':
			b.WriteString(`\` + string(c))
		case c == '+':
			if i != 0 {
				return nil, fmt.Errorf("'+' only allowed first (position %d)", i+1)
			}
			b.WriteString(`\+`)
		case c == 'X' || c == 'x':
			b.WriteString(`[0-9]`)
		case c == 'Z' || c == 'z':
			b.WriteString(`[1-9]`)
		case c == 'N' || c == 'n':
			b.WriteString(`[2-9]`)
		case c == '.':
			b.WriteString(`[0-9*#]+`)
		case c == '!':
			b.WriteString(`[0-9*#]*`)
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '[' at position %d", i+1)
			}
			set, err := digitSet(s[i+1 : i+end])
			if err != nil {
				return nil, fmt.Errorf("bad set at position %d: %w", i+1, err)
			}
			b.WriteString(set)
			i += end
		default:
			return nil, fmt.Errorf("unexpected %q at position %d", c, i+1)
		}
	}
	b.WriteString(`$`)
	return &Pattern{src: s, re: regexp.MustCompile(b.String())}, nil
}

// digitSet turns the inside of "[...]" (digits and ranges like 3-7) into a regexp
// class.
func digitSet(in string) (string, error) {
	if in == "" {
		return "", errors.New("empty")
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c < '0' || c > '9' {
			return "", fmt.Errorf("%q is not a digit", c)
		}
		if i+2 < len(in) && in[i+1] == '-' {
			hi := in[i+2]
			if hi < c || hi > '9' {
				return "", fmt.Errorf("bad range %c-%c", c, hi)
			}
			b.WriteString(in[i : i+3])
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte(']')
	return b.String(), nil
}

// reError shortens a regexp error: "error parsing regexp: missing closing ): `^(1`"
// becomes "missing closing ): `^(1`".
func reError(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code) + ": `" + se.Expr + "`"
	}
	return err.Error()
}

// Match reports whether number matches the pattern.
func (p *Pattern) Match(number string) bool {
	if p == nil || p.re == nil {
		return false
	}
	return p.re.MatchString(number)
}

// String returns the pattern as written.
func (p *Pattern) String() string {
	if p == nil {
		return ""
	}
	return p.src
}

// IsRegexp reports whether the pattern is a regular expression (starts with '^').
func (p *Pattern) IsRegexp() bool { return p != nil && strings.HasPrefix(p.src, "^") }
