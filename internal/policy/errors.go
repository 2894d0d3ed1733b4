package policy

import (
	"errors"
	"fmt"
)

// FieldError is one problem in a policy file, at a line and a field.
type FieldError struct {
	// File is the policy file, empty for Parse.
	File string
	// Line is 1-based, zero when the problem concerns the whole file.
	Line int
	// Field is the path of the field, such as "rules[0].mrsigner[1]".
	Field   string
	Message string
}

func (e *FieldError) Error() string {
	// The file:line form is the one editors and compilers use.
	var where string
	switch {
	case e.File != "" && e.Line > 0:
		where = fmt.Sprintf("%s:%d", e.File, e.Line)
	case e.File != "":
		where = e.File
	case e.Line > 0:
		where = fmt.Sprintf("line %d", e.Line)
	default:
		where = "policy"
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", where, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", where, e.Field, e.Message)
}

// FieldErrors returns every *FieldError in err, which Parse and Load
// return joined by errors.Join.
func FieldErrors(err error) []*FieldError {
	var found []*FieldError
	var walk func(error)
	walk = func(err error) {
		if fieldErr, ok := err.(*FieldError); ok {
			found = append(found, fieldErr)
			return
		}
		switch wrapped := err.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range wrapped.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(wrapped.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return found
}

// ErrInvalidPolicy is wrapped by every error of Parse and Load about the
// content of the policy file.
var ErrInvalidPolicy = errors.New("invalid release policy")
