package conversation

import (
	"slices"
	"strconv"
	"strings"

	"lindungi/bot/catalog"
	"lindungi/bot/intent"
)

// maxTries: after this many unreadable answers to a NIK, date or phone
// question the answer is kept as typed and flagged for the operator, so a
// citizen is never stuck on a format.
const maxTries = 3

func (t *turn) startFlow(category string) {
	steps, ok := Flows[category]
	if !ok {
		category, steps = "other", Flows["other"]
	}
	t.st.Flow, t.st.Fields = category, map[string]string{}
	t.st.Step = steps[0]
	t.sayText(t.t("flow_intro_"+category, nil) + "\n\n" + t.question(steps[0]))
}

func (t *turn) question(step string) string {
	switch step {
	case "new_value":
		return t.t("ask_new_value_"+t.st.Fields["data_field"], nil)
	case "confirm":
		return t.t("confirm", map[string]string{"summary": t.summary()})
	}
	return t.t("ask_"+step, nil)
}

// complaint takes the answer to the current step of a complaint flow.
func (t *turn) complaint(text string) {
	f := t.st.Fields
	if f == nil {
		f = map[string]string{}
		t.st.Fields = f
	}
	if t.in.HasAttachment {
		f["attachment"] = "yes"
	}
	step := t.st.Step
	if step != "confirm" && !slices.Contains(Flows[t.st.Flow], step) {
		// A state from an older engine, or damaged: ask again from the start
		// of this flow rather than say something meaningless.
		t.startFlow(t.st.Flow)
		return
	}
	if step == "confirm" {
		switch {
		case intent.Yes(text):
			t.create()
		case intent.No(text):
			t.idle("menu")
			t.say("cancelled", "menu")
		default:
			t.say("confirm_invalid")
		}
		return
	}
	if ok := t.take(step, text); !ok {
		tries, _ := strconv.Atoi(f["_tries"])
		tries++
		if tries >= maxTries && text != "" && (step == "nik" || step == "dob" || step == "phone" || step == "new_value") {
			// Keep what they typed; an operator will sort it out.
			f[step] = truncate(cleanText(text, maxOther), 40)
			addCheck(f, step+"_unverified")
		} else if step == "attachment" {
			t.say("attachment_waiting")
			return
		} else {
			f["_tries"] = strconv.Itoa(tries)
			t.say("ask_" + invalidKey(step, f))
			return
		}
	}
	delete(f, "_tries")
	delete(f, "_waiting")
	var pre string
	if step == "attachment" && f["attachment"] == "yes" {
		pre = t.t("attachment_received", nil) + "\n\n"
	}
	next := nextStep(t.st.Flow, step, f)
	t.st.Step = next
	t.sayText(pre + t.question(next))
}

func invalidKey(step string, f map[string]string) string {
	if step == "new_value" {
		switch f["data_field"] {
		case "name":
			return "name_invalid"
		case "dob":
			return "dob_invalid"
		default:
			return "phone_invalid"
		}
	}
	return step + "_invalid"
}

// nextStep is the step after step in flow, skipping an optional photo that
// already arrived.
func nextStep(flow, step string, f map[string]string) string {
	steps := Flows[flow]
	for i, s := range steps {
		if s != step {
			continue
		}
		for _, n := range steps[i+1:] {
			if n == "attachment" && f["attachment"] == "yes" {
				continue
			}
			return n
		}
	}
	return "confirm"
}

// take validates and stores the answer for step.
func (t *turn) take(step, text string) bool {
	f := t.st.Fields
	switch step {
	case "data_field":
		switch n := intent.Normalize(text); {
		case n == "1" || strings.Contains(n, "nama") || strings.Contains(n, "name"):
			f["data_field"] = "name"
		case n == "2" || strings.Contains(n, "lahir") || strings.Contains(n, "birth") || strings.Contains(n, "tanggal"):
			f["data_field"] = "dob"
		case n == "3" || strings.Contains(n, "hp") || strings.Contains(n, "phone") || strings.Contains(n, "nomor"):
			f["data_field"] = "phone"
		default:
			return false
		}
		return true
	case "name":
		name, ok := CleanName(text)
		if ok {
			f["name"] = name
		}
		return ok
	case "nik":
		nik := CleanNIK(text)
		if !ValidNIK(nik) {
			return false
		}
		f["nik"] = nik
		t.crossCheck()
		return true
	case "dob":
		d, ok := ParseDate(text, t.in.Now)
		if ok {
			f["dob"] = d.Format("2006-01-02")
			t.crossCheck()
		}
		return ok
	case "phone":
		p, ok := NormalizePhone(text)
		if !ok && sameNumber(text) {
			// "sama", "nomor ini": the number they are writing from.
			p, ok = NormalizePhone(t.in.From)
		}
		if ok {
			f["phone"] = p
		}
		return ok
	case "new_value":
		switch f["data_field"] {
		case "name":
			v, ok := CleanName(text)
			if ok {
				f["new_value"] = v
			}
			return ok
		case "dob":
			d, ok := ParseDate(text, t.in.Now)
			if ok {
				f["new_value"] = d.Format("2006-01-02")
			}
			return ok
		default:
			p, ok := NormalizePhone(text)
			if ok {
				f["new_value"] = p
			}
			return ok
		}
	case "description":
		d := cleanText(text, MaxDescription)
		if d == "" && !t.in.HasAttachment {
			return false
		}
		if d == "" {
			d = "(foto)"
		}
		f["description"] = d
		return true
	case "attachment":
		if f["attachment"] == "yes" {
			return true
		}
		if intent.Yes(text) && f["_waiting"] == "" {
			// "ya" (I have one): wait for it, once.
			f["_waiting"] = "1"
			return false
		}
		f["attachment"] = "no"
		if !intent.Skip(text) && len(strings.Fields(text)) > 3 {
			// They wrote more instead of sending a photo: keep it.
			f["description"] = cleanText(joinNonEmpty(f["description"], text), MaxDescription)
		}
		return true
	}
	return false
}

func joinNonEmpty(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}

// crossCheck flags a date of birth that disagrees with the one inside the
// NIK; it is not refused (either may be the wrong one), just marked.
func (t *turn) crossCheck() {
	f := t.st.Fields
	if f["nik"] == "" || f["dob"] == "" {
		return
	}
	d, ok := ParseDate(f["dob"][8:10]+"-"+f["dob"][5:7]+"-"+f["dob"][0:4], t.in.Now)
	if ok && !nikMatchesDOB(f["nik"], d) {
		addCheck(f, "nik_dob_mismatch")
	}
}

func addCheck(f map[string]string, flag string) {
	for _, c := range strings.Split(f["check"], ",") {
		if c == flag {
			return
		}
	}
	f["check"] = strings.TrimPrefix(f["check"]+","+flag, ",")
}

// summary lists the collected fields for confirmation, escaped.
func (t *turn) summary() string {
	f := t.st.Fields
	lines := []string{"- " + t.t("label_category", nil) + ": " + t.t("category_"+t.st.Flow, nil)}
	add := func(label, v string) {
		if v != "" {
			lines = append(lines, "- "+t.t(label, nil)+": "+catalog.Escape(v))
		}
	}
	if df := f["data_field"]; df != "" {
		add("label_data_field", t.t("data_field_"+df, nil))
	}
	add("label_name", f["name"])
	add("label_nik", f["nik"])
	add("label_dob", displayDate(f["dob"]))
	add("label_phone", f["phone"])
	if f["data_field"] == "dob" {
		add("label_new_value", displayDate(f["new_value"]))
	} else {
		add("label_new_value", f["new_value"])
	}
	desc := f["description"]
	if len([]rune(desc)) > 300 {
		desc = truncate(desc, 300) + "…"
	}
	add("label_description", desc)
	if f["attachment"] != "" {
		if f["attachment"] == "yes" {
			add("label_attachment", t.t("value_attachment_yes", nil))
		} else {
			add("label_attachment", t.t("value_attachment_no", nil))
		}
	}
	return strings.Join(lines, "\n")
}

// displayDate shows 1985-08-17 as 17-08-1985, the way it was asked for.
func displayDate(iso string) string {
	if len(iso) != 10 || iso[4] != '-' {
		return iso
	}
	return iso[8:10] + "-" + iso[5:7] + "-" + iso[0:4]
}

func (t *turn) create() {
	cat := t.st.Flow
	fields := publicFields(t.st.Fields)
	if fields == nil {
		fields = map[string]string{}
	}
	fields["lang"] = t.st.Lang
	t.act(Action{Kind: KindCreateTicket, Category: cat, Fields: fields})
	t.idle("")
	t.sayText(t.t("ticket_created", map[string]string{"eta": t.eta(cat)}))
}
