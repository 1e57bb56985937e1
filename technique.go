package hindsight

// ValidTechnique reports whether id is an ATT&CK technique or sub-technique ID: T followed by four
// digits, optionally a dot and three more digits (T1059, T1059.001).
func ValidTechnique(id string) bool {
	if len(id) != 5 && len(id) != 9 {
		return false
	}
	if id[0] != 'T' || !digits(id[1:5]) {
		return false
	}
	return len(id) == 5 || (id[5] == '.' && digits(id[6:]))
}

// ParentTechnique returns the parent of a sub-technique (T1059 for T1059.001), or id itself for a
// technique.
func ParentTechnique(id string) string {
	if len(id) > 5 && id[5] == '.' {
		return id[:5]
	}
	return id
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
