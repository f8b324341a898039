package wafake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestControlAPI(t *testing.T) {
	srv, err := New("127.0.0.1:0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := srv.ControlHandler()
	tests := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/status", "", 200, `"account":"6281110500567"`},
		{"POST", "/pair", `{"qr":"a,b,c"}`, 409, "4"},
		{"POST", "/pair", `{"code":"ABCD-EFGH"}`, 409, "pairing code"},
		{"POST", "/contacts/+6281234500001/messages", `{"text":"halo","name":"Budi"}`, 409, "no paired device"},
		{"GET", "/contacts/6281234500001/received", "", 200, `{"messages":[]}`},
		{"POST", "/faults/withhold-acks?on=true", "", 200, `"ok":true`},
		{"POST", "/faults/explode", "", 404, "unknown fault"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%s %s = %d %s, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.want)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("not JSON: %s", rec.Body)
			}
		})
	}
	if srv.Contact("6281234500001") == nil {
		t.Fatal("first message did not create the contact")
	}
	_ = http.StatusOK
}
