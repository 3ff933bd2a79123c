package sitestate

import (
	"context"
	"errors"
)

// ExportOptions says which site to describe.
type ExportOptions struct {
	Bundle      string // the site's bundle folder: files/ (served), images/ (the layout), manifest.yaml (views)
	StorageDir  string // the registry's filesystem storage ("" when the registry is remote: images come from the bundle's layout)
	Site        string // a name for the site (optional)
	Concurrency int
}

// Export describes what the site holds now.
func Export(ctx context.Context, opts ExportOptions) (*State, error) {
	return nil, errors.New("sitestate.Export: not written yet")
}
