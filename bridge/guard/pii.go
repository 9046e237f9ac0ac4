package guard

import (
	"math/big"
	"regexp"
	"strings"
)

// Personal data rules. Each finds candidates with a regular expression
// and keeps those that pass the type's own check, so that order numbers
// and version strings are not taken for cards or phones.
const (
	RuleEmail = "email"
	RulePhone = "phone"
	RuleCard  = "card-number"
	RuleIBAN  = "iban"
)

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b`)
	// An international number (+ and 8 to 15 digits, with spaces, dots,
	// dashes or parentheses between groups) or a North American one
	// written (555) 123-4567 or 555-123-4567.
	phoneRE = regexp.MustCompile(`\+[1-9][0-9 .()-]{6,20}[0-9]|\(?\b[2-9][0-9]{2}\)?[ .-][0-9]{3}[ .-][0-9]{4}\b`)
	// 13 to 19 digits, possibly grouped by spaces or dashes.
	cardRE = regexp.MustCompile(`\b[0-9](?:[ -]?[0-9]){12,18}\b`)
	// Two letters, two check digits, 11 to 30 letters and digits,
	// possibly grouped by spaces in fours.
	ibanRE = regexp.MustCompile(`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b`)
)

// findPII returns the personal data in text.
func findPII(text string) []span {
	var out []span
	add := func(re *regexp.Regexp, rule string, valid func(string) bool) {
		for _, m := range re.FindAllStringIndex(text, -1) {
			if valid == nil || valid(text[m[0]:m[1]]) {
				out = append(out, span{start: m[0], end: m[1], rule: rule})
			}
		}
	}
	if strings.IndexByte(text, '@') >= 0 {
		add(emailRE, RuleEmail, nil)
	}
	add(cardRE, RuleCard, luhn)
	add(ibanRE, RuleIBAN, ibanValid)
	add(phoneRE, RulePhone, phoneValid)
	return out
}

// digits returns the ASCII digits of s.
func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// luhn reports whether s's digits (13 to 19 of them) pass the Luhn check
// that every payment card number passes.
func luhn(s string) bool {
	d := digits(s)
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := range len(d) {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// ibanValid reports whether s is an IBAN: its check digits make the
// rearranged number 1 modulo 97 (ISO 13616).
func ibanValid(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	var b strings.Builder
	for _, c := range s[4:] + s[:4] {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			b.WriteString(big.NewInt(int64(c-'A') + 10).String())
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// phoneValid keeps phone candidates with 10 to 15 digits, the range of
// real numbers with their country or area code.
func phoneValid(s string) bool {
	n := len(digits(s))
	return n >= 10 && n <= 15
}
