package archive

import (
	"errors"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Workspaces lists the ids of the workspaces that have a directory
// (workspace=<id>) under root, sorted. A missing root holds none. Directory
// names that are not valid workspace ids are skipped.
func Workspaces(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), "workspace=")
		if !ok || !e.IsDir() || checkWorkspaceID(id) != nil {
			continue
		}
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}
