package certificate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// dccVectorsDir is the shared copy of the EU DCC test vectors
// (eu-digital-green-certificates/dgc-testdata, Apache-2.0). They stay
// outside the repository; the test skips when they are absent.
const dccVectorsDir = "../../shared/data/dcc"

type dccVector struct {
	JSON    json.RawMessage `json:"JSON"`
	Prefix  string          `json:"PREFIX"`
	TestCtx struct {
		Certificate     string    `json:"CERTIFICATE"`
		ValidationClock time.Time `json:"VALIDATIONCLOCK"`
		Description     string    `json:"DESCRIPTION"`
	} `json:"TESTCTX"`
	Expected struct {
		Verify   *bool `json:"EXPECTEDVERIFY"`
		Decode   *bool `json:"EXPECTEDDECODE"`
		KeyUsage *bool `json:"EXPECTEDKEYUSAGE"`
		Expiry   *bool `json:"EXPECTEDEXPIRATIONCHECK"`
	} `json:"EXPECTEDRESULTS"`
}

// TestDCCVectors runs `lindungi certificate verify` (VerifyCommand) on
// every vector with a QR string, at the vector's validation clock, and
// checks it against EXPECTEDVERIFY and EXPECTEDDECODE wherever set, and
// against EXPECTEDKEYUSAGE and EXPECTEDEXPIRATIONCHECK too. Where
// a vector also gives the JSON it encodes, the decoded payload must equal it.
func TestDCCVectors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(dccVectorsDir, "*", "2DCode", "raw", "*.json"))
	if len(files) == 0 {
		t.Skipf("no DCC test vectors under %s", dccVectorsDir)
	}
	var nVerify, nDecode, nJSON, nUsage, nExpiry int
	for _, f := range files {
		name, _ := filepath.Rel(dccVectorsDir, f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v dccVector
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			if v.Prefix == "" || (v.Expected.Verify == nil && v.Expected.Decode == nil && v.Expected.KeyUsage == nil && v.Expected.Expiry == nil) {
				t.Skip("no QR string, or none of EXPECTEDVERIFY, EXPECTEDDECODE, EXPECTEDKEYUSAGE, EXPECTEDEXPIRATIONCHECK")
			}
			// Through the command's own function: trust file in, JSON out.
			trustFile := filepath.Join(t.TempDir(), "signer.b64")
			if err := os.WriteFile(trustFile, []byte(v.TestCtx.Certificate), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = VerifyCommand(strings.NewReader(v.Prefix+"\n"), &out, trustFile, v.TestCtx.ValidationClock)
			var r Result
			if jerr := json.Unmarshal(out.Bytes(), &r); jerr != nil {
				t.Fatalf("output %q: %v", out.String(), jerr)
			}
			if (err == nil) != r.Valid || (err != nil && !errors.Is(err, ErrNotValid)) {
				t.Fatalf("valid=%v but error %v", r.Valid, err)
			}
			r.Decoded = r.Payload != nil
			if want := v.Expected.Verify; want != nil {
				nVerify++
				if r.Valid != *want {
					t.Errorf("%s: valid=%v reason=%s, EXPECTEDVERIFY=%v", v.TestCtx.Description, r.Valid, r.Reason, *want)
				}
			}
			if want := v.Expected.KeyUsage; want != nil {
				nUsage++
				if (r.Reason != ReasonKeyUsage) != *want {
					t.Errorf("%s: valid=%v reason=%s, EXPECTEDKEYUSAGE=%v", v.TestCtx.Description, r.Valid, r.Reason, *want)
				}
			}
			if want := v.Expected.Expiry; want != nil {
				nExpiry++
				timely := r.Reason != ReasonExpired && r.Reason != ReasonNotYetValid && r.Reason != ReasonSignerExpired
				if timely != *want {
					t.Errorf("%s: valid=%v reason=%s, EXPECTEDEXPIRATIONCHECK=%v", v.TestCtx.Description, r.Valid, r.Reason, *want)
				}
			}
			if want := v.Expected.Decode; want != nil {
				nDecode++
				if r.Decoded != *want {
					t.Errorf("%s: decoded=%v reason=%s, EXPECTEDDECODE=%v", v.TestCtx.Description, r.Decoded, r.Reason, *want)
				}
				if *want && len(v.JSON) > 0 && r.Payload != nil {
					nJSON++
					var wantJSON, got any
					_ = json.Unmarshal(v.JSON, &wantJSON)
					gb, _ := json.Marshal(r.Payload.HCert)
					_ = json.Unmarshal(gb, &got)
					if !reflect.DeepEqual(got, wantJSON) {
						t.Errorf("decoded payload differs from the vector's JSON:\n got  %s\n want %s", gb, v.JSON)
					}
				}
			}
		})
	}
	t.Logf("%d vector files; checked EXPECTEDVERIFY on %d, EXPECTEDDECODE on %d (payload compared with JSON on %d), EXPECTEDKEYUSAGE on %d, EXPECTEDEXPIRATIONCHECK on %d", len(files), nVerify, nDecode, nJSON, nUsage, nExpiry)
}
