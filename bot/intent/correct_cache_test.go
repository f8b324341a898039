package intent

import (
	"fmt"
	"sync"
	"testing"
)

// TestCorrectionCache: a cached correction is the uncached one, for hits
// and misses, under concurrent use, and the cache stays bounded.
func TestCorrectionCache(t *testing.T) {
	m := NewMatcher()
	words := []string{"sertivikat", "sertifikatny", "verifkasi", "vaksinn", "padahal", "kebayoran", "puskesmas", "hujan", "xqzvwyk"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				for _, w := range words {
					gotC, gotOK := m.correct(w)
					wantC, wantOK := m.lookupCorrection(w)
					if gotC != wantC || gotOK != wantOK {
						t.Errorf("correct(%q) = %d, %v; uncached %d, %v", w, gotC, gotOK, wantC, wantOK)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for i := range maxCorrections + 10 {
		m.correct(fmt.Sprintf("kata%c%c%c%c", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26, 'a'+i/17576%26))
	}
	if n := len(m.corrections); n > maxCorrections {
		t.Errorf("%d cached corrections, bound %d", n, maxCorrections)
	}
}
