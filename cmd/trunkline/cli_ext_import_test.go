package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseExtensionsCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []importEntry
		lines   []int
		wantErr string // substring; "" = no error
	}{
		{name: "required columns only", in: "number,password\n1001,secret01\n1002,secret02\n",
			want:  []importEntry{{Number: "1001", Password: "secret01"}, {Number: "1002", Password: "secret02"}},
			lines: []int{2, 3}},
		{name: "every column, any order, trimmed",
			in: "permissions , max_calls,caller_id,name,password,number\n" +
				" internal | national|emergency, 2 ,+4930123456,\"Doe, Jane\",secret01,1001\n",
			want: []importEntry{{Number: "1001", Password: "secret01", Name: "Doe, Jane", CallerID: "+4930123456",
				MaxCalls: 2, Permissions: []string{"internal", "national", "emergency"}}},
			lines: []int{2}},
		{name: "empty optional cells take the defaults",
			in:    "number,password,name,caller_id,max_calls,permissions\n1001,secret01,,,,\n",
			want:  []importEntry{{Number: "1001", Password: "secret01"}},
			lines: []int{2}},
		{name: "spreadsheet export: BOM, CRLF, capitalised header, empty rows",
			in:    "\uFEFFNumber,Password,Name\r\n1001,secret01,Alice\r\n,,\r\n\r\n1002,secret02,Bob\r\n",
			want:  []importEntry{{Number: "1001", Password: "secret01", Name: "Alice"}, {Number: "1002", Password: "secret02", Name: "Bob"}},
			lines: []int{2, 5}},
		{name: "a quoted cell over two lines keeps the line of its start",
			in:    "number,name,password\n1001,\"two\nlines\",secret01\n1002,x,secret02\n",
			want:  []importEntry{{Number: "1001", Password: "secret01", Name: "two\nlines"}, {Number: "1002", Password: "secret02", Name: "x"}},
			lines: []int{2, 4}},
		{name: "values are the server's to validate",
			in:    "number,password\n10a1,x\n",
			want:  []importEntry{{Number: "10a1", Password: "x"}},
			lines: []int{2}},
		{name: "header only", in: "number,password\n"},
		{name: "empty file", in: "", wantErr: "empty file"},
		{name: "unknown column", in: "number,password,colour\n1001,secret01,red\n", wantErr: `line 1: unknown column "colour"`},
		{name: "column twice", in: "number,password,Number\n", wantErr: `line 1: column "number" appears twice`},
		{name: "no password column", in: "number,name\n1001,Alice\n", wantErr: `line 1: missing column "password"`},
		{name: "no header", in: "1001,secret01\n", wantErr: `line 1: unknown column "1001"`},
		{name: "wrong number of cells", in: "number,password\n1001,secret01\n1002,secret02,extra\n",
			wantErr: "line 3: wrong number of fields"},
		{name: "max_calls not a number", in: "number,password,max_calls\n1001,secret01,2\n1002,secret02,two\n",
			wantErr: `line 3: max_calls: "two" is not a non-negative integer`},
		{name: "negative max_calls", in: "number,password,max_calls\n1001,secret01,-1\n",
			wantErr: `line 2: max_calls: "-1" is not a non-negative integer`},
		{name: "empty permission class", in: "number,password,permissions\n1001,secret01,internal||national\n",
			wantErr: `line 2: permissions: empty class in "internal||national"`},
		{name: "other separator", in: "number,password,permissions\n1001,secret01,internal;national\n",
			want:  []importEntry{{Number: "1001", Password: "secret01", Permissions: []string{"internal;national"}}}, // the server names it
			lines: []int{2}},
		{name: "bare quote", in: "number,password\n1001,sec\"ret\n", wantErr: "line 2: bare \" in non-quoted-field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, lines, err := parseExtensionsCSV(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(lines, tt.lines) {
				t.Fatalf("got %+v on lines %v\nwant %+v on lines %v", got, lines, tt.want, tt.lines)
			}
		})
	}
}

func FuzzParseExtensionsCSV(f *testing.F) {
	f.Add("number,password\n1001,secret01\n")
	f.Add("\uFEFFpermissions,max_calls,caller_id,name,password,number\r\ninternal|national,2,+49,\"a,\nb\",pw,1\r\n,,,,,\r\n")
	f.Add("number,password,max_calls\n1,x,-1\n")
	f.Add("number,password\n1,\"x\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, lines, err := parseExtensionsCSV(strings.NewReader(in))
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "line ") && !strings.HasPrefix(msg, "empty file") {
				t.Fatalf("error %q names no line", msg)
			}
			return
		}
		if len(entries) != len(lines) {
			t.Fatalf("%d entries but %d lines", len(entries), len(lines))
		}
		for i, e := range entries {
			if lines[i] < 2 || (i > 0 && lines[i] <= lines[i-1]) {
				t.Fatalf("lines %v: want increasing, after the header", lines)
			}
			if e.MaxCalls < 0 || slices.Contains(e.Permissions, "") {
				t.Fatalf("entry %+v: negative max_calls or an empty permission", e)
			}
		}
	})
}

func TestCLIExtImport(t *testing.T) {
	srv, st := cliServer(t)
	env := map[string]string{"TRUNKLINE_API": srv.URL, "TRUNKLINE_ADMIN_TOKEN": cliToken}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.csv", "number,password,name,caller_id,max_calls,permissions\n"+
		"1001,secret01,Alice,,2,\n1002,secret02,Bob,+4930123456,,internal|emergency\n1003,secret03,,,,\n")
	badPassword := write("badpw.csv", "number,password\n2001,secret01\n\n2002,abc\n")
	badCell := write("badcell.csv", "number,password,max_calls\n2001,secret01,2\n2002,secret02,lots\n")
	empty := write("empty.csv", "number,password\n")

	steps := []cliStep{
		{[]string{"ext", "import", good}, 0, "3 extensions created\n", ""},
		{[]string{"ext", "list"}, 0, "Bob", ""},
		// Every entry exists now: the first one is named, by its line.
		{[]string{"ext", "import", good}, 1, "", "error: line 2: number: already exists\n"},
		{[]string{"ext", "import", badPassword}, 1, "", "error: line 4: password: shorter than 6 characters\n"},
		{[]string{"ext", "import", badCell}, 1, "", `error: ` + badCell + `: line 3: max_calls: "lots" is not a non-negative integer`},
		{[]string{"ext", "import", empty}, 1, "", "no extensions after the header line"},
		{[]string{"ext", "import", filepath.Join(dir, "missing.csv")}, 1, "", "missing.csv"},
		{[]string{"ext", "import"}, 2, "", "ext import: want 1 argument(s), got 0"},
	}
	runSteps(t, env, steps)

	bob, err := st.GetExtension(t.Context(), "1002")
	if err != nil || bob.Name != "Bob" || bob.CallerID != "+4930123456" || bob.Password != "secret02" ||
		!reflect.DeepEqual(bob.Permissions, []string{"internal", "emergency"}) {
		t.Fatalf("1002 = %+v, %v; want as in the file", bob, err)
	}
	alice, err := st.GetExtension(t.Context(), "1001")
	if err != nil || alice.MaxCalls != 2 || len(alice.Permissions) == 0 {
		t.Fatalf("1001 = %+v, %v; want max_calls 2 and the default permissions", alice, err)
	}
	if list, _ := st.ListExtensions(t.Context()); len(list) != 3 {
		t.Fatalf("%d extensions stored; want 3 (failed imports write nothing)", len(list))
	}

	code, out, _ := runEnv(t, env, "ext", "import", "--json", write("more.csv", "number,password\n1004,secret04\n"))
	if code != 0 || !strings.Contains(out, `"created": 1`) {
		t.Fatalf("ext import --json = %d %q; want the API's JSON", code, out)
	}
}
