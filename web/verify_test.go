package web

import (
	"math"
	"reflect"
	"testing"

	"lindungi/certificate"
)

// A trusted issuer's payload is generic CBOR of any schema version: every
// field is type-checked and an odd one is left blank, never a failure.
func TestCertViewTypeChecks(t *testing.T) {
	for _, c := range []struct {
		name  string
		hcert map[string]any
		want  certView
	}{
		{"EU DCC", map[string]any{"nam": map[string]any{"fn": "Santoso", "gn": "Budi"}, "dob": "1985-03-02",
			"v": []any{map[string]any{"dn": uint64(2), "sd": uint64(2), "dt": "2021-08-02", "mp": "CoronaVac", "co": "ID"}}},
			certView{Name: "Santoso Budi", DateOfBirth: "1985-03-02", Doses: []doseView{{"2", "2", "2021-08-02", "CoronaVac", "ID"}}}},
		{"name a string, doses not a list", map[string]any{"nam": "x", "dob": 19850302, "v": "y"}, certView{}},
		{"dose not a map, numbers odd", map[string]any{"v": []any{"x", map[string]any{"dn": math.NaN(), "sd": 1.0, "dt": 7}}},
			certView{Doses: []doseView{{Number: "?", Series: "1"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := newCertView(&certificate.Payload{HCert: c.hcert})
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("view %+v, want %+v", *got, c.want)
			}
		})
	}
}
