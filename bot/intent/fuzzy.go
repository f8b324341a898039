package intent

// fuzzyIndex finds the known word nearest to a misspelt one. It indexes
// every known word under each of its single-letter deletions (a symmetric
// deletion index), so a lookup costs a handful of map probes instead of an
// edit-distance computation against the whole lexicon. Candidates are then
// confirmed with the optimal string alignment distance.
type fuzzyIndex struct {
	byDelete map[string][]string
}

func newFuzzyIndex(words []string) *fuzzyIndex {
	f := &fuzzyIndex{byDelete: map[string][]string{}}
	for _, w := range words {
		f.byDelete[w] = append(f.byDelete[w], w)
		for i := 0; i < len(w); i++ {
			d := w[:i] + w[i+1:]
			f.byDelete[d] = append(f.byDelete[d], w)
		}
	}
	return f
}

// maxDistance allows one edit in words up to 7 letters and two in longer
// ones ("sertivikat", "verifkasi"), where two edits rarely change meaning.
func maxDistance(n int) int {
	if n >= 8 {
		return 2
	}
	return 1
}

// lookup returns the nearest known word within maxDistance of w. Among
// equally near words the shortest wins, then the alphabetically first, so
// the answer is deterministic.
func (f *fuzzyIndex) lookup(w string) (string, bool) {
	limit := maxDistance(len(w))
	best, bestD := "", limit+1
	try := func(key string) {
		for _, cand := range f.byDelete[key] {
			if len(w) < 6 && len(cand) == len(w) && !isTransposition(w, cand) {
				// A different letter in a short word is as often another
				// word ("hujan" is not "human") as a typo.
				continue
			}
			if d := osaDistance(w, cand, limit); d < bestD || d == bestD && (len(cand) < len(best) || len(cand) == len(best) && cand < best) {
				best, bestD = cand, d
			}
		}
	}
	try(w)
	var buf [64]byte
	for i := 0; i < len(w); i++ {
		d := append(append(buf[:0], w[:i]...), w[i+1:]...)
		try(string(d))
		if limit >= 2 {
			for j := 0; j < len(d); j++ {
				var buf2 [64]byte
				dd := append(append(buf2[:0], d[:j]...), d[j+1:]...)
				try(string(dd))
			}
		}
	}
	return best, bestD <= limit
}

// osaDistance is the optimal string alignment distance (Levenshtein plus
// adjacent transposition) between a and b, or limit+1 when it exceeds limit.
func osaDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	if len(a) > 62 || len(b) > 62 {
		return limit + 1
	}
	var rows [3][64]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	if d := prev[len(b)]; d <= limit {
		return d
	}
	return limit + 1
}

// isTransposition reports whether b is a with two adjacent letters swapped.
func isTransposition(a, b string) bool {
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}
