package policy

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

const (
	// measurementHexLen is the length of MRSIGNER and MRENCLAVE in hex:
	// both are 32-byte SHA-256 values in the SGX report body.
	measurementHexLen = 64

	// MaxPolicySize bounds the policy file Load reads. Real policies are a
	// few kilobytes, and the bound keeps a wrong path, such as a device
	// file, from being read without end.
	MaxPolicySize = 1 << 20
)

// advisoryIDPattern is the form of Intel advisory IDs such as
// INTEL-SA-00615 and INTEL-DOC-00123, after upper-casing.
var advisoryIDPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`)

// Parse parses and validates a policy. It does not read the development
// root files, which Load does. Every error wraps ErrInvalidPolicy and
// joins one *FieldError per problem.
func Parse(data []byte) (*Policy, error) {
	return parse(data, "")
}

func parse(data []byte, file string) (*Policy, error) {
	d := &decoder{file: file}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}

	p := &Policy{}
	if root != nil {
		d.policy(root, p)
	}
	if len(p.Rules) == 0 && len(d.errs) == 0 {
		d.fail(root, "rules", "the policy has no rules, so it would release no key: add at least one rule")
	}
	if len(d.errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(d.errs...))
	}
	p.Warnings = ruleWarnings(p)
	return p, nil
}

// Limits on the work that one policy file can cause. Aliases let a small
// file name one list many times, so both the errors reported and the list
// items visited are counted, not only the file's size.
const (
	// maxFieldErrors is how many errors Parse lists before it stops.
	maxFieldErrors = 100
	// maxListItems bounds the list items visited, aliases included.
	maxListItems = 100000
)

// decoder walks the YAML node tree and collects every error.
type decoder struct {
	file string
	errs []error
	// items counts the list items visited, for maxListItems.
	items int
	// truncated is set once maxFieldErrors errors are listed.
	truncated bool
}

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	if d.truncated {
		return
	}
	if len(d.errs) == maxFieldErrors {
		d.truncated = true
		d.errs = append(d.errs, fmt.Errorf("%s: more errors follow; fix these first", d.fileName()))
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	d.errs = append(d.errs, &FieldError{
		File:    d.file,
		Line:    line,
		Field:   field,
		Message: fmt.Sprintf(format, args...),
	})
}

// document returns the mapping at the top of the single YAML document in
// data, or nil for an empty document.
func (d *decoder) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, &FieldError{
				File: d.file, Message: "the policy is empty: add a rules list",
			})
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidPolicy, d.fileName(), err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, &FieldError{
			File: d.file, Line: extra.Line,
			Message: "a second YAML document starts here: a policy is one document",
		})
	}

	root := resolve(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = resolve(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, &FieldError{
			File: d.file, Line: root.Line,
			Message: fmt.Sprintf("the policy is a %s, expected a mapping with a rules list", kindName(root)),
		})
	}
	return root, nil
}

func (d *decoder) fileName() string {
	if d.file == "" {
		return "policy"
	}
	return d.file
}

func (d *decoder) policy(root *yaml.Node, p *Policy) {
	for key, value := range d.fields(root, "", []string{"rules", "developmentRoots"}) {
		switch key.Value {
		case "rules":
			items, ok := d.sequence(value, "rules")
			if !ok {
				continue
			}
			for i, item := range items {
				if rule, ok := d.rule(item, i); ok {
					p.Rules = append(p.Rules, rule)
				}
			}
		case "developmentRoots":
			items, _ := d.sequence(value, "developmentRoots")
			for i, item := range items {
				if path, ok := d.nonEmptyString(item, fmt.Sprintf("developmentRoots[%d]", i)); ok {
					p.DevelopmentRootPaths = append(p.DevelopmentRootPaths, path)
					p.developmentRootLines = append(p.developmentRootLines, item.Line)
				}
			}
		}
	}
}

// ruleFields are the fields a rule may have.
var ruleFields = []string{
	"name", "signers", "mrsigner", "mrenclave", "isvProdId", "minIsvSvn",
	"allowDebug", "tcbStatuses", "deniedAdvisoryIds", "maxCollateralAge",
}

func (d *decoder) rule(n *yaml.Node, index int) (Rule, bool) {
	path := fmt.Sprintf("rules[%d]", index)
	rule := Rule{Name: path, Line: n.Line}
	errorsBefore := len(d.errs)
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "the rule is a %s, expected a mapping of rule fields", kindName(n))
		return rule, false
	}

	var tcbStatusesSet bool
	var signersNode *yaml.Node
	for key, value := range d.fields(n, path, ruleFields) {
		field := path + "." + key.Value
		switch key.Value {
		case "name":
			if name, ok := d.nonEmptyString(value, field); ok {
				rule.Name = name
			}
		case "signers":
			signersNode = value
			rule.Signers = d.signers(value, field)
		case "mrsigner":
			rule.MRSigners = d.measurements(value, field)
		case "mrenclave":
			rule.MREnclaves = d.measurements(value, field)
		case "isvProdId":
			if id, ok := d.uint16(value, field); ok {
				rule.ISVProdID = &id
			}
		case "minIsvSvn":
			rule.MinISVSVN, _ = d.uint16(value, field)
		case "allowDebug":
			rule.AllowDebug, _ = d.bool(value, field)
		case "tcbStatuses":
			tcbStatusesSet = true
			rule.TCBStatuses = d.tcbStatuses(value, field)
		case "deniedAdvisoryIds":
			rule.DeniedAdvisoryIDs = d.advisoryIDs(value, field)
		case "maxCollateralAge":
			rule.MaxCollateralAge, _ = d.duration(value, field)
		}
	}

	if signersNode == nil {
		d.fail(n, path+".signers", "missing: list the signer names or patterns the rule applies to")
	}
	if len(rule.MRSigners) == 0 && len(rule.MREnclaves) == 0 && len(d.errs) == errorsBefore {
		d.fail(n, path, "the rule lists no mrsigner and no mrenclave: add at least one, "+
			"because a rule must name the enclaves it releases keys to")
	}
	if len(rule.MRSigners) > 0 && len(rule.MREnclaves) == 0 && rule.ISVProdID == nil &&
		len(d.errs) == errorsBefore {
		d.fail(n, path+".isvProdId", "missing: a rule that identifies enclaves by mrsigner alone "+
			"must set isvProdId, because one signing key may sign several products")
	}
	if !tcbStatusesSet {
		rule.TCBStatuses = slices.Clone(DefaultTCBStatuses)
	}
	return rule, len(d.errs) == errorsBefore
}

// fields yields the key and value nodes of mapping n and reports unknown
// and duplicate keys.
func (d *decoder) fields(n *yaml.Node, path string, known []string) func(yield func(key, value *yaml.Node) bool) {
	return func(yield func(key, value *yaml.Node) bool) {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], resolve(n.Content[i+1])
			field := key.Value
			if path != "" {
				field = path + "." + key.Value
			}
			if key.Kind != yaml.ScalarNode {
				d.fail(key, path, "a field name is a %s, expected a plain name", kindName(key))
				continue
			}
			if key.Tag == "!!merge" {
				d.fail(key, path, "merge keys (<<) are not supported: write the fields in each mapping")
				continue
			}
			if !slices.Contains(known, key.Value) {
				d.fail(key, field, "unknown field, expected one of: %s", strings.Join(known, ", "))
				continue
			}
			if line, dup := seen[key.Value]; dup {
				d.fail(key, field, "duplicate field, first set on line %d", line)
				continue
			}
			seen[key.Value] = key.Line
			if !yield(key, value) {
				return
			}
		}
	}
}

func (d *decoder) sequence(n *yaml.Node, field string) ([]*yaml.Node, bool) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "the value is a %s, expected a list", kindName(n))
		return nil, false
	}
	d.items += len(n.Content)
	if d.items > maxListItems {
		d.fail(n, field, "the policy has more than %d list items, aliases counted each time they are used; "+
			"list fewer signers or measurements", maxListItems)
		return nil, false
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		items[i] = resolve(item)
	}
	return items, true
}

func (d *decoder) nonEmptyString(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.fail(n, field, "the value is a %s, expected a string", kindName(n))
		return "", false
	}
	if strings.TrimSpace(n.Value) == "" {
		d.fail(n, field, "the value is empty")
		return "", false
	}
	return n.Value, true
}

func (d *decoder) signers(n *yaml.Node, field string) []string {
	items, ok := d.sequence(n, field)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.fail(n, field, "the list is empty: list the signer names or patterns the rule applies to")
	}
	var patterns []string
	for i, item := range items {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		pattern, ok := d.nonEmptyString(item, itemField)
		if !ok {
			continue
		}
		if strings.ContainsFunc(pattern, isSpace) {
			d.fail(item, itemField, "pattern %q contains white space, which no signer name has", pattern)
			continue
		}
		patterns = append(patterns, pattern)
	}
	return patterns
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r'
}

func (d *decoder) measurements(n *yaml.Node, field string) [][32]byte {
	items, ok := d.sequence(n, field)
	if !ok {
		return nil
	}
	var values [][32]byte
	for i, item := range items {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		text, ok := d.nonEmptyString(item, itemField)
		if !ok {
			continue
		}
		if len(text) != measurementHexLen {
			d.fail(item, itemField, "%q has %d characters, expected %d hex digits",
				text, len(text), measurementHexLen)
			continue
		}
		var value [32]byte
		if _, err := hex.Decode(value[:], []byte(text)); err != nil {
			d.fail(item, itemField, "%q is not hex: %v", text, err)
			continue
		}
		values = append(values, value)
	}
	return values
}

func (d *decoder) uint16(n *yaml.Node, field string) (uint16, bool) {
	var value int64
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&value) != nil {
		d.fail(n, field, "%s is not an integer, expected 0 to 65535", describe(n))
		return 0, false
	}
	if value < 0 || value > 0xffff {
		d.fail(n, field, "%d is out of range, expected 0 to 65535", value)
		return 0, false
	}
	return uint16(value), true
}

func (d *decoder) bool(n *yaml.Node, field string) (bool, bool) {
	var value bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&value) != nil {
		d.fail(n, field, "%s is not a boolean, expected true or false", describe(n))
		return false, false
	}
	return value, true
}

func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	text, ok := d.nonEmptyString(n, field)
	if !ok {
		return 0, false
	}
	value, err := time.ParseDuration(text)
	if err != nil || value <= 0 {
		d.fail(n, field, "%q is not a positive duration, expected a Go duration such as 720h", text)
		return 0, false
	}
	return value, true
}

func (d *decoder) tcbStatuses(n *yaml.Node, field string) []string {
	items, ok := d.sequence(n, field)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.fail(n, field, "the list is empty, so the rule would accept no platform: "+
			"list statuses or drop the field for the default %s", strings.Join(DefaultTCBStatuses, ", "))
	}
	var statuses []string
	for i, item := range items {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		status, ok := d.nonEmptyString(item, itemField)
		if !ok {
			continue
		}
		switch {
		case strings.EqualFold(status, collateral.StatusRevoked):
			d.fail(item, itemField, "status Revoked can never be accepted: remove it")
		case slices.Contains(knownTCBStatuses, status):
			if !slices.Contains(statuses, status) {
				statuses = append(statuses, status)
			}
		default:
			d.fail(item, itemField, "unknown TCB status %q%s, expected one of: %s",
				status, spellingHint(status), strings.Join(knownTCBStatuses, ", "))
		}
	}
	return statuses
}

// spellingHint suggests the known status that status differs from only in
// case.
func spellingHint(status string) string {
	for _, known := range knownTCBStatuses {
		if strings.EqualFold(known, status) {
			return fmt.Sprintf(" (did you mean %s?)", known)
		}
	}
	return ""
}

func (d *decoder) advisoryIDs(n *yaml.Node, field string) []string {
	items, ok := d.sequence(n, field)
	if !ok {
		return nil
	}
	var ids []string
	for i, item := range items {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		id, ok := d.nonEmptyString(item, itemField)
		if !ok {
			continue
		}
		id = strings.ToUpper(id)
		if !advisoryIDPattern.MatchString(id) {
			d.fail(item, itemField, "%q is not an advisory ID such as INTEL-SA-00615", item.Value)
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

// resolve follows YAML aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "missing value"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "scalar " + describe(n)
	default:
		return "YAML node"
	}
}

// describe quotes a scalar's text, or names the kind of another node.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return fmt.Sprintf("%q", n.Value)
	}
	return "a " + kindName(n)
}

// ruleWarnings returns the warnings about rules that weaken the policy.
func ruleWarnings(p *Policy) []string {
	var warnings []string
	for _, rule := range p.Rules {
		if rule.AllowDebug {
			warnings = append(warnings, fmt.Sprintf("rule %s allows debug enclaves, whose memory "+
				"the host can read: use such a rule for development only", rule.label()))
		}
	}
	return warnings
}

// readLimited reads path, which must be a regular file of at most
// MaxPolicySize bytes. A named pipe or a device is rejected before it is
// opened, because reading it may never end.
func readLimited(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a file", path)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %s)", path, info.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicySize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPolicySize {
		return nil, fmt.Errorf("%s is larger than the maximum of %d bytes", path, MaxPolicySize)
	}
	return data, nil
}
