package pipeline

import "github.com/iocpipe/iocpipe/pipeline/formats"

// A Description says how a file will be read (see formats.Description).
type Description = formats.Description

// Describe reads the head of the file at path and says how it will be
// read under route (see formats.Describe).
func Describe(path string, route *Route) (*Description, error) {
	if route == nil {
		route = &Route{}
	}
	return formats.Describe(path, route.ReadOptions())
}
