package model

// ValidateExtension checks an extension as the API receives it. requirePassword is
// false for updates that keep the stored password.
func ValidateExtension(e *Extension, requirePassword bool) error {
	if e.Number == "" {
		return &FieldError{Field: "number", Reason: "required"}
	}
	if len(e.Number) > 32 {
		return &FieldError{Field: "number", Reason: "longer than 32 digits"}
	}
	for _, c := range e.Number {
		if c < '0' || c > '9' {
			return &FieldError{Field: "number", Reason: "must contain digits only"}
		}
	}
	if requirePassword && e.Password == "" {
		return &FieldError{Field: "password", Reason: "required"}
	}
	if e.Password != "" && len(e.Password) < 6 {
		return &FieldError{Field: "password", Reason: "shorter than 6 characters"}
	}
	if len(e.Name) > 128 {
		return &FieldError{Field: "name", Reason: "longer than 128 characters"}
	}
	if e.MaxCalls < 0 {
		return &FieldError{Field: "max_calls", Reason: "must not be negative"}
	}
	return validatePermissions(e.Permissions)
}
