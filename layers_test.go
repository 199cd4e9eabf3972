package sharelog_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sharelog/sharelog"

// layer returns the floor of a package of the module, from the bottom: the
// domain package; the low-level helpers of internal/; the stages (ingest,
// enrich, storage, sinks, rules); the server's parts (server/api, stream,
// console); config, which assembles every part's configuration; the process
// wiring (server/pipeline); the tools (tools/); the commands.
func layer(pkg string) (int, string) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	first, _, _ := strings.Cut(rel, "/")
	switch {
	case rel == "":
		return 0, "domain"
	case first == "internal":
		return 1, "internal"
	case first == "ingest", first == "enrich", first == "storage", first == "sinks", first == "rules":
		return 2, "stage"
	case rel == "server/pipeline" || strings.HasPrefix(rel, "server/pipeline/"):
		return 5, "wiring"
	case first == "server":
		return 3, "server"
	case first == "config":
		return 4, "config"
	case first == "tools":
		return 6, "tools"
	case first == "cmd":
		return 7, "cmd"
	}
	return -1, ""
}

// TestLayers keeps the layout's promise: a package imports (directly or
// not) only packages of its own floor or below. Stages never import the
// server, config, the wiring or the tools; internal/ helpers import no
// stage; the domain package imports no other package of the module.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, module+"/examples/") {
			continue
		}
		pl, pname := layer(p.ImportPath)
		if pl < 0 {
			t.Errorf("%s: in no layer; add its top folder to layer()", p.ImportPath)
			continue
		}
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, module) {
				continue
			}
			if dl, dname := layer(d); dl > pl {
				t.Errorf("%s (%s) imports %s (%s), a higher floor", p.ImportPath, pname, d, dname)
			}
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d packages listed", checked)
	}
}
