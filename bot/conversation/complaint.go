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

func (t *turn) startFlow(category string) { t.startFlowFrom(category, "") }

// startFlowFrom starts a complaint flow from the citizen's own message:
// what it already says is kept, and the first question is for what is
// still missing.
func (t *turn) startFlowFrom(category, text string) {
	steps, ok := Flows[category]
	if !ok {
		category, steps = "other", Flows["other"]
	}
	t.st.Flow, t.st.Fields = category, map[string]string{}
	var understood []string
	if text != "" {
		filled := t.fillSlots(text)
		// A message that carries facts as well is the citizen's whole
		// story: it is the description. A short "NIK sy dipakai org lain"
		// only says what the complaint is about, so the question stays.
		if slices.Contains(steps, "description") && len(filled) > 0 && len(strings.Fields(text)) >= 5 {
			slots := ExtractSlots(text, t.in.Now)
			t.st.Fields["description"] = cleanText(slots.withoutSpans(text), MaxDescription)
		}
		for _, k := range slotOrder {
			if filled[k] {
				understood = append(understood, t.t("label_"+k, nil))
			}
		}
	}
	first := firstStep(category, t.st.Fields)
	t.st.Step = first
	intro := t.t("flow_intro_"+category, nil)
	if len(understood) > 0 {
		intro += "\n\n" + t.t("flow_understood", map[string]string{"fields": strings.Join(understood, ", ")})
	}
	t.sayText(intro + "\n\n" + t.question(first))
}

// slotOrder is the order in which understood facts are listed.
var slotOrder = []string{"name", "nik", "dob", "phone", "email", "dose", "vax_date", "vax_place"}

// vaccineFlows are the complaints where the dose, date and place of a
// vaccination help the operator; elsewhere they are not kept.
var vaccineFlows = map[string]bool{
	"certificate_missing": true, "change_data": true, "nik_misuse": true,
	"vaccination_status": true, "certificate_download": true,
}

// slotAllowed says whether the current flow keeps field when a citizen
// writes it unasked. Only what the complaint needs is kept (UU PDP: collect
// what the purpose needs): a NIK in a Sijejak question is not stored. In a
// change of data, a name, birth date or phone in free text may be the
// wrong value or the right one, so those are asked, not guessed.
func (t *turn) slotAllowed(field string) bool {
	steps := Flows[t.st.Flow]
	switch field {
	case "dose", "vax_date", "vax_place":
		return vaccineFlows[t.st.Flow]
	case "email":
		return slices.Contains(steps, "phone")
	case "name", "dob", "phone":
		if t.st.Flow == "change_data" {
			return false
		}
	}
	return slices.Contains(steps, field)
}

// fillSlots stores the facts in text that the flow keeps and does not have
// yet, and reports which it stored.
func (t *turn) fillSlots(text string) map[string]bool {
	f := t.st.Fields
	s := ExtractSlots(text, t.in.Now)
	filled := map[string]bool{}
	for k, v := range map[string]string{
		"name": s.Name, "nik": s.NIK, "dob": s.DOB, "phone": s.Phone, "email": s.Email,
		"dose": s.Dose, "vax_date": s.VaxDate, "vax_place": s.VaxPlace,
	} {
		if v != "" && f[k] == "" && t.slotAllowed(k) {
			f[k] = v
			filled[k] = true
		}
	}
	if filled["nik"] || filled["dob"] {
		t.crossCheck()
	}
	return filled
}

// correct replaces, at the summary, the fields the citizen wrote again:
// the summary exists so that what was understood can be put right.
func (t *turn) correct(text string) bool {
	s := ExtractSlots(text, t.in.Now)
	changed := false
	for k, v := range map[string]string{
		"name": s.Name, "nik": s.NIK, "dob": s.DOB, "phone": s.Phone, "email": s.Email,
		"dose": s.Dose, "vax_date": s.VaxDate, "vax_place": s.VaxPlace,
	} {
		if v != "" && t.st.Fields[k] != v && (t.slotAllowed(k) || t.st.Fields[k] != "") {
			t.st.Fields[k] = v
			changed = true
		}
	}
	if changed {
		t.crossCheck()
	}
	return changed
}

// leadingWords is text up to the first digit, comma, semicolon or line
// break.
func leadingWords(text string) string {
	if i := strings.IndexAny(text, "0123456789,;\n"); i >= 0 {
		return text[:i]
	}
	return text
}

// firstStep is the first step of flow whose field is still empty.
func firstStep(flow string, f map[string]string) string {
	for _, s := range Flows[flow] {
		if f[s] == "" {
			return s
		}
	}
	return "confirm"
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
		case t.correct(text):
			// "tanggal lahir 13-03-1985": the summary is shown again
			// with the correction.
			t.sayText(t.question("confirm"))
		default:
			t.say("confirm_invalid")
		}
		return
	}
	// An answer may carry more than was asked ("Budi, NIK 3174…, lahir
	// 12-03-1985"): keep it all, and count the question answered when the
	// facts include its field.
	filled := t.fillSlots(text)
	ok := filled[step]
	if !ok && step == "name" && len(filled) > 0 {
		// "Rina Wati, NIK 3578…": the name is what comes before the
		// other facts.
		if n := cutName(leadingWords(text)); n != "" {
			f["name"], ok = n, true
		}
	}
	if ok = ok || t.take(step, text); !ok {
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
			// Skip what is already known: a photo that arrived, a field
			// written unasked in an earlier message.
			if f[n] != "" {
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
	add("label_email", f["email"])
	add("label_dose", f["dose"])
	add("label_vax_date", displayDate(f["vax_date"]))
	add("label_vax_place", f["vax_place"])
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
