package pan

// ContainsCardNumber reports whether s holds what may be a card number written by a
// person: 13 to 19 ASCII digits that pass the Luhn check, either in one unbroken run or in
// groups separated by spaces, dashes or dots ("4111 1111 1111 1111", "4111-1111-1111-1111").
// Every stretch of consecutive groups is tried, so a card number written after another
// number ("ref 12 4111 1111 1111 1111") is found too; a single run of more than 19 digits
// is not a card number and is not searched inside.
//
// It is the one guard for free text the service stores or echoes. It runs in time linear
// in len(s), allocates nothing, and never reports which digits matched.
func ContainsCardNumber(s string) bool {
	// groups holds the last digit groups of the written number being read, as [start, end)
	// offsets in s; a stretch of more than maxLen digits needs no older group.
	var groups [maxLen][2]int
	n := 0          // groups held (at most maxLen)
	linked := false // whether only separators lie between the last group and here
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			start := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if !linked {
				n = 0
			}
			if n == maxLen {
				copy(groups[:], groups[1:])
				n--
			}
			groups[n] = [2]int{start, i}
			n++
			if endsWithCardNumber(s, groups[:n]) {
				return true
			}
			linked = true
		case c == ' ' || c == '-' || c == '.':
			i++
		default:
			linked = false
			i++
		}
	}
	return false
}

// endsWithCardNumber reports whether some stretch of the last groups, ending with the
// last one, holds 13 to 19 digits passing the Luhn check.
func endsWithCardNumber(s string, groups [][2]int) bool {
	total := 0
	for k := len(groups) - 1; k >= 0; k-- {
		total += groups[k][1] - groups[k][0]
		if total > maxLen {
			return false
		}
		if total >= minLen && luhnGroups(s, groups[k:]) {
			return true
		}
	}
	return false
}

// luhnGroups is Luhn over the digits of groups read as one number.
func luhnGroups(s string, groups [][2]int) bool {
	sum, double := 0, false
	for k := len(groups) - 1; k >= 0; k-- {
		for i := groups[k][1] - 1; i >= groups[k][0]; i-- {
			d := int(s[i] - '0')
			if double {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
			double = !double
		}
	}
	return sum%10 == 0
}
