package main

// ext import: extensions from a CSV file, created in one request
// (POST /api/v1/extensions/import), all or nothing.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The CSV columns of ext import, named by its header line in any order; number
// and password are required. Cells are trimmed of surrounding spaces; an empty
// optional cell takes the server's default.
var (
	importColumns         = []string{"number", "password", "name", "caller_id", "max_calls", "permissions"}
	importRequiredColumns = []string{"number", "password"}
)

// permissionSeparator separates the classes in a permissions cell
// ("internal|national|emergency"): unlike ',' or ';' it is no CSV field
// separator in any common spreadsheet export, so such a cell needs no quotes.
const permissionSeparator = "|"

// importEntry is one extension as ext import sends it. Empty optional fields are
// left out, so that the server applies its defaults (permissions especially).
type importEntry struct {
	Number      string   `json:"number"`
	Password    string   `json:"password"`
	Name        string   `json:"name,omitempty"`
	CallerID    string   `json:"caller_id,omitempty"`
	MaxCalls    int      `json:"max_calls,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

// parseExtensionsCSV reads the CSV of ext import: a header line naming the
// columns, then one extension per line. It returns the entries and, for each,
// its line in the file (for the server's errors, which name entries by index).
// Blank lines and lines of empty cells are skipped. Errors name the line.
// Values are checked only as far as needed to build the request; the server
// validates the rest.
func parseExtensionsCSV(r io.Reader) ([]importEntry, []int, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // every line has as many cells as the header
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errors.New("empty file: want a header line such as number,password,name")
	} else if err != nil {
		return nil, nil, csvError(err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // spreadsheets' UTF-8 byte order mark
	}
	col := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch _, dup := col[name]; {
		case !slices.Contains(importColumns, name):
			return nil, nil, fmt.Errorf("line 1: unknown column %q (columns: %s)", h, strings.Join(importColumns, ", "))
		case dup:
			return nil, nil, fmt.Errorf("line 1: column %q appears twice", name)
		}
		col[name] = i
	}
	for _, name := range importRequiredColumns {
		if _, ok := col[name]; !ok {
			return nil, nil, fmt.Errorf("line 1: missing column %q (required: %s)", name, strings.Join(importRequiredColumns, ", "))
		}
	}

	var entries []importEntry
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		cell := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // a spreadsheet's empty row: ",,,"
		}
		e := importEntry{Number: cell("number"), Password: cell("password"), Name: cell("name"),
			CallerID: cell("caller_id")}
		if s := cell("max_calls"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, nil, fmt.Errorf("line %d: max_calls: %q is not a non-negative integer", line, s)
			}
			e.MaxCalls = n
		}
		if s := cell("permissions"); s != "" {
			for p := range strings.SplitSeq(s, permissionSeparator) {
				p = strings.TrimSpace(p)
				if p == "" {
					return nil, nil, fmt.Errorf("line %d: permissions: empty class in %q (separate classes with %q)",
						line, s, permissionSeparator)
				}
				e.Permissions = append(e.Permissions, p)
			}
		}
		entries = append(entries, e)
		lines = append(lines, line)
	}
	return entries, lines, nil
}

// csvError words an encoding/csv error with its line: "line 3: wrong number
// of fields".
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %w", pe.Line, pe.Err)
	}
	return err
}

func (c *cli) extImport(ctx context.Context, args []string) error {
	pos, err := parse(c.flags("ext import"), args, 1)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	entries, lines, err := parseExtensionsCSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("%s: no extensions after the header line", pos[0])
	}
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/extensions/import", map[string]any{"extensions": entries})
	if err != nil {
		return lineError(err, lines)
	}
	if c.json {
		return c.printJSON(raw)
	}
	var resp struct {
		Created int `json:"created"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("cli: decode import result: %w", err)
	}
	fmt.Fprintf(c.stdout, "%d extensions created\n", resp.Created)
	return nil
}

// entryFieldRE matches the API's name of an import entry's field:
// "extensions[17]" or "extensions[17].password".
var entryFieldRE = regexp.MustCompile(`^extensions\[(\d+)\](?:\.(.+))?$`)

// lineError turns an API error about import entry i into one about its line in
// the file: field "extensions[17].password" becomes "line 19: password".
func lineError(err error, lines []int) error {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err
	}
	m := entryFieldRE.FindStringSubmatch(ae.Field)
	if m == nil {
		return err
	}
	i, convErr := strconv.Atoi(m[1])
	if convErr != nil || i >= len(lines) {
		return err
	}
	out := *ae
	out.Field = fmt.Sprintf("line %d", lines[i])
	if m[2] != "" {
		out.Field += ": " + m[2]
	}
	return &out
}
