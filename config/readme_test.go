package config

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// keyPaths lists every configuration key as its dotted YAML path. A list
// (email.mailboxes) or a map (outbox.rate) is one key.
func keyPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
			out = append(out, keyPaths(f.Type, prefix+key+".")...)
			continue
		}
		out = append(out, prefix+key)
	}
	return out
}

// README's configuration table (the one headed "| key | env | default |")
// names every key there is and none that is not: an operator reads it, not
// this file.
func TestReadmeListsEveryKey(t *testing.T) {
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cell := regexp.MustCompile("`([a-z_]+(?:\\.[a-z_]+)*)(?:\\.<[a-z]+>|\\[\\])?`")
	documented := map[string]bool{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "| key | env | default |") {
			in = true
			continue
		}
		if in && !strings.HasPrefix(line, "|") {
			break
		}
		if !in || strings.HasPrefix(line, "|---") {
			continue
		}
		first := strings.SplitN(strings.TrimPrefix(line, "|"), "|", 2)[0]
		for _, m := range cell.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(documented) == 0 {
		t.Fatal("README.md has no configuration table headed \"| key | env | default |\"")
	}
	real := map[string]bool{}
	for _, k := range keyPaths(reflect.TypeOf(Config{}), "") {
		real[k] = true
		if !documented[k] {
			t.Errorf("README's configuration table lacks %s", k)
		}
	}
	var extra []string
	for k := range documented {
		if !real[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("README's configuration table names keys that do not exist: %v", extra)
	}
}
