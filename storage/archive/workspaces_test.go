package archive

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWorkspaces(t *testing.T) {
	root := t.TempDir()
	if ws, err := Workspaces(filepath.Join(root, "missing")); err != nil || ws != nil {
		t.Fatalf("missing root: %v %v", ws, err)
	}
	for _, d := range []string{"workspace=ws-b/date=2026-11-22", "workspace=ws-a", "workspace=a..b", "other", "workspace="} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "workspace=file"), nil, 0o644)
	ws, err := Workspaces(root)
	if err != nil || !slices.Equal(ws, []string{"ws-a", "ws-b"}) {
		t.Fatalf("%q %v", ws, err)
	}
}
