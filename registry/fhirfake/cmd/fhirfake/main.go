// Command fhirfake runs the fake vaccination registry for demos: a few
// citizens with doses, on loopback, and prints the configuration that
// points the gateway at it.
//
//	go run ./registry/fhirfake/cmd/fhirfake
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"lindungi/registry/fhirfake"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:8090", "address to serve on (loopback)")
	flag.Parse()
	fake := fhirfake.New("lindungi-demo", "demo-secret")
	// Demo citizens; NIKs agree with their birth dates. The phone numbers
	// are what `lindungi chat --from` should use to be "the registered
	// number" in a demo through the simulator.
	fake.AddPatient(fhirfake.Patient{ID: "P02478375538", NIK: "3174055708900003", Name: "Siti Aminah", Gender: "female", BirthDate: "1990-08-17", Phone: "+6281234567890"})
	fake.AddDose(fhirfake.Dose{ID: "imm-1", PatientID: "P02478375538", Date: "2021-08-17", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 1, Series: 2})
	fake.AddDose(fhirfake.Dose{ID: "imm-2", PatientID: "P02478375538", Date: "2021-09-14", KFACode: "93001019", VaccineName: "CoronaVac", Place: "Puskesmas Kebayoran Baru", Dose: 2, Series: 2})
	fake.AddPatient(fhirfake.Patient{ID: "P01234567890", NIK: "3273010101850007", Name: "Agus Salim", Gender: "male", BirthDate: "1985-01-01", Phone: "+6281398765432"})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	secret := filepath.Join(os.TempDir(), "lindungi-fhirfake-secret")
	if err := os.WriteFile(secret, []byte("demo-secret"), 0o600); err != nil {
		log.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Printf("LINDUNGI_REGISTRY_BASE_URL=%s%s\nLINDUNGI_REGISTRY_TOKEN_URL=%s%s\nLINDUNGI_REGISTRY_CLIENT_ID=lindungi-demo\nLINDUNGI_REGISTRY_CLIENT_SECRET_FILE=%s\nLINDUNGI_SELFSERVICE_DEMO_CHANNELS=simulator\n",
		base, fhirfake.FHIRPath, base, fhirfake.TokenPath, secret)
	fmt.Println("# citizens: Siti Aminah 3174055708900003 17-08-1990 +6281234567890 (2 doses); Agus Salim 3273010101850007 01-01-1985 +6281398765432 (none)")
	log.Fatal(http.Serve(ln, fake))
}
