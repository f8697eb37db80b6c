package routing

import (
	"strings"
	"testing"

	"github.com/trunkline/trunkline/internal/model"
)

var (
	planUS = model.DialPlan{CountryCode: "1"}
	planUK = model.DialPlan{CountryCode: "44", NationalPrefix: "0"}
	planDE = model.DialPlan{CountryCode: "49", NationalPrefix: "0"}
)

func TestNumber(t *testing.T) {
	tests := []struct {
		name    string
		plan    model.DialPlan
		dialed  string
		e164    string
		class   string
		cleaned string // "" = dialed
	}{
		// US / NANP
		{"us 10 digits", planUS, "2125551234", "12125551234", model.ClassNational, ""},
		{"us 1+10", planUS, "12125551234", "12125551234", model.ClassNational, ""},
		{"us +1", planUS, "+12125551234", "12125551234", model.ClassNational, ""},
		{"us formatted", planUS, "+1 (212) 555-1234", "12125551234", model.ClassNational, "+12125551234"},
		{"us 011 international", planUS, "011442071234567", "442071234567", model.ClassInternational, ""},
		{"us premium 1900", planUS, "19005551234", "19005551234", model.ClassPremium, ""},
		{"us premium 976", planUS, "9765551234", "19765551234", model.ClassPremium, ""},
		{"us 911", planUS, "911", "", model.ClassEmergency, ""},
		{"us 7 digits local", planUS, "5551234", "", model.ClassNational, ""},
		{"us 10 digits starting 1", planUS, "1125551234", "", model.ClassNational, ""},
		{"us 00 is not international", planUS, "00442071234567", "", model.ClassNational, ""},
		// UK
		{"uk national", planUK, "02071234567", "442071234567", model.ClassNational, ""},
		{"uk mobile", planUK, "07700900123", "447700900123", model.ClassMobile, ""},
		{"uk mobile +44", planUK, "+447700900123", "447700900123", model.ClassMobile, ""},
		{"uk premium 09", planUK, "09098790000", "449098790000", model.ClassPremium, ""},
		{"uk premium 087", planUK, "08712345678", "448712345678", model.ClassPremium, ""},
		{"uk personal 070", planUK, "07012345678", "447012345678", model.ClassPremium, ""},
		{"uk 00 international", planUK, "0012125551234", "12125551234", model.ClassInternational, ""},
		{"uk 999", planUK, "999", "", model.ClassEmergency, ""},
		{"uk 112", planUK, "112", "", model.ClassEmergency, ""},
		{"uk short code", planUK, "118118", "", model.ClassNational, ""},
		{"uk spaces", planUK, "020 7123 4567", "442071234567", model.ClassNational, "02071234567"},
		// Germany
		{"de national", planDE, "030100100", "4930100100", model.ClassNational, ""},
		{"de mobile", planDE, "015112345678", "4915112345678", model.ClassMobile, ""},
		{"de premium", planDE, "09001234567", "499001234567", model.ClassPremium, ""},
		{"de +49", planDE, "+4930100100", "4930100100", model.ClassNational, ""},
		// No dial plan
		{"none +", model.DialPlan{}, "+442071234567", "442071234567", model.ClassInternational, ""},
		{"none 00", model.DialPlan{}, "00442071234567", "442071234567", model.ClassInternational, ""},
		{"none national", model.DialPlan{}, "02071234567", "", model.ClassNational, ""},
		{"none 911", model.DialPlan{}, "911", "", model.ClassEmergency, ""},
		// Own tables and edge cases
		{"own emergency list", model.DialPlan{CountryCode: "44", NationalPrefix: "0", EmergencyNumbers: []string{"999"}}, "112", "", model.ClassNational, ""},
		{"own mobile list", model.DialPlan{CountryCode: "44", NationalPrefix: "0", MobilePrefixes: []string{}}, "07700900123", "447700900123", model.ClassNational, ""},
		{"plus zero", planUK, "+0123", "", model.ClassNational, ""},
		{"plus too long", planUK, "+1234567890123456", "", model.ClassNational, ""},
		{"star code", planUK, "*67", "", model.ClassNational, ""},
		{"national prefix only", planUK, "0", "", model.ClassNational, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newPlan(tt.plan).number(tt.dialed)
			want := Number{Dialed: tt.dialed, E164: tt.e164, Class: tt.class}
			if tt.cleaned != "" {
				want.Dialed = tt.cleaned
			}
			if n != want {
				t.Errorf("number(%q) = %+v; want %+v", tt.dialed, n, want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	e164 := &model.Trunk{NumberFormat: model.FormatE164}
	plus := &model.Trunk{NumberFormat: model.FormatE164Plus}
	national := &model.Trunk{NumberFormat: model.FormatNational}
	tech := &model.Trunk{NumberFormat: model.FormatTechPrefix, TechPrefix: "12345678*"}
	tests := []struct {
		name    string
		plan    model.DialPlan
		dialed  string
		trunk   *model.Trunk
		strip   int
		prepend string
		want    string
	}{
		{"uk national to plus", planUK, "02071234567", plus, 0, "", "+442071234567"},
		{"uk national to e164", planUK, "02071234567", e164, 0, "", "442071234567"},
		{"uk national to national", planUK, "+442071234567", national, 0, "", "02071234567"},
		{"uk abroad to national", planUK, "+12125551234", national, 0, "", "0012125551234"},
		{"us 10 to plus", planUS, "2125551234", plus, 0, "", "+12125551234"},
		{"us to national", planUS, "+12125551234", national, 0, "", "2125551234"},
		{"us abroad to national", planUS, "011442071234567", national, 0, "", "011442071234567"},
		{"us tech prefix", planUS, "2125551234", tech, 0, "", "12345678*12125551234"},
		{"emergency as dialed", planUS, "911", plus, 0, "", "911"},
		{"short code as dialed", planUK, "118118", e164, 0, "", "118118"},
		{"strip and prepend", planUK, "02071234567", e164, 2, "9", "92071234567"},
		{"strip plus", planUK, "02071234567", plus, 1, "", "442071234567"},
		{"prepend before tech prefix", planUS, "2125551234", tech, 1, "55", "12345678*552125551234"},
		{"strip everything", planUK, "999", e164, 10, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlan(tt.plan)
			got := rewrite(p.format(p.number(tt.dialed), tt.trunk), tt.strip, tt.prepend, tt.trunk)
			if got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
	s := NewSnapshot(Config{DialPlan: planUK})
	if got := s.FormatNumber("020 7123 4567", plus); got != "+442071234567" {
		t.Errorf("Snapshot.FormatNumber = %q", got)
	}
}

func FuzzNumber(f *testing.F) {
	for _, s := range []string{"+442071234567", "00", "0", "+", "011", "2125551234", "911", "(020) 7123-4567", "*67#"} {
		f.Add(s, "44", "0")
	}
	f.Fuzz(func(t *testing.T, dialed, cc, np string) {
		dp := model.DialPlan{CountryCode: cc, NationalPrefix: np}
		dp.Defaults()
		if model.ValidateDialPlan(&dp) != nil {
			dp = planUK // the API never stores an invalid plan
		}
		for _, pl := range []plan{newPlan(dp), newPlan(planUS)} {
			n := pl.number(dialed)
			if n.E164 != "" && (len(n.E164) > maxE164 || !isDigits(n.E164) || n.E164[0] == '0') {
				t.Fatalf("number(%q).E164 = %q", dialed, n.E164)
			}
			if n.Class == "" {
				t.Fatal("no class")
			}
			if n.E164 != "" && pl.number("+"+n.E164).E164 != n.E164 {
				t.Fatalf("+E164 of %q does not normalise to itself", dialed)
			}
			for _, tr := range []*model.Trunk{{NumberFormat: model.FormatNational}, {NumberFormat: model.FormatTechPrefix, TechPrefix: "9*"}} {
				out := rewrite(pl.format(n, tr), 3, "1", tr)
				if n.E164 != "" && strings.ContainsAny(out, " ()") {
					t.Fatalf("formatted %q", out)
				}
			}
		}
	})
}
