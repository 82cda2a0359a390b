package taxii

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DiscoveryPath is where a TAXII 2.1 server's discovery resource lives.
const DiscoveryPath = "/taxii2/"

// Discovery is a server's discovery resource.
type Discovery struct {
	// URL is the discovery endpoint asked.
	URL         string `json:"url"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	Contact     string `json:"contact,omitempty"`
	// Default is the default API root's URL, absolute; "" when none.
	Default string `json:"default,omitempty"`
	// APIRoots are the API roots' URLs, absolute, each ending with "/".
	APIRoots []string `json:"api_roots"`
}

// APIRoot is an API root resource.
type APIRoot struct {
	// URL is the API root's URL, ending with "/".
	URL              string   `json:"url"`
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// A Collection is a collection resource of an API root.
type Collection struct {
	// APIRoot is the URL of the API root that lists it, ending with "/".
	APIRoot     string   `json:"api_root"`
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// String names the collection in messages: its title and id.
func (c Collection) String() string {
	if c.Title == "" {
		return c.ID
	}
	return fmt.Sprintf("%q (%s)", c.Title, c.ID)
}

// objectsURL is the collection's objects endpoint.
func (c Collection) objectsURL() string {
	return c.APIRoot + "collections/" + url.PathEscape(c.ID) + "/objects/"
}

// discoveryURL is where to ask for discovery given u: u itself, or
// u + /taxii2/ when u names a server only (no path).
func discoveryURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return "", fmt.Errorf("taxii: %q is not an absolute http(s) URL", u)
	}
	if p.Path == "" || p.Path == "/" {
		p.Path = DiscoveryPath
	}
	return withSlash(p.String()), nil
}

// Discover reads the discovery resource at u (u + /taxii2/ when u has no
// path), with API root URLs made absolute. A URL that answers an API
// root instead is an error wrapping ErrNotDiscovery.
func (c *Client) Discover(ctx context.Context, u string) (Discovery, error) {
	du, err := discoveryURL(u)
	if err != nil {
		return Discovery{}, err
	}
	var raw struct {
		Discovery
		Versions []string `json:"versions"`
	}
	if _, err := c.get(ctx, du, &raw); err != nil {
		return Discovery{}, fmt.Errorf("taxii discovery: %w", err)
	}
	d := raw.Discovery
	if d.APIRoots == nil && raw.Versions != nil {
		return Discovery{}, fmt.Errorf("taxii discovery: %s: %w", redacted(du), ErrNotDiscovery)
	}
	d.URL = du
	base, _ := url.Parse(du)
	for i, r := range d.APIRoots {
		d.APIRoots[i] = resolve(base, r)
	}
	if d.Default != "" {
		d.Default = resolve(base, d.Default)
	}
	return d, nil
}

// resolve makes an API root's URL absolute against base, ending with "/".
func resolve(base *url.URL, ref string) string {
	r, err := url.Parse(ref)
	if err != nil {
		return withSlash(ref)
	}
	return withSlash(base.ResolveReference(r).String())
}

// APIRoot reads the API root resource at root. A root that offers TAXII
// 2.0 only is an error wrapping ErrTAXII20, one that offers neither an
// error wrapping ErrMediaType.
func (c *Client) APIRoot(ctx context.Context, root string) (APIRoot, error) {
	root = withSlash(root)
	var r APIRoot
	if _, err := c.get(ctx, root, &r); err != nil {
		return APIRoot{}, fmt.Errorf("taxii API root: %w", err)
	}
	r.URL = root
	if err := checkVersions(r.Versions); err != nil {
		return APIRoot{}, fmt.Errorf("taxii API root %s: %w", redacted(root), err)
	}
	return r, nil
}

// checkVersions accepts an API root's versions when TAXII 2.1 is among
// them (no versions at all is taken as 2.1: the answer's media type was).
func checkVersions(vs []string) error {
	if len(vs) == 0 {
		return nil
	}
	for _, v := range vs {
		if checkMediaType(v) == nil {
			return nil
		}
	}
	for _, v := range vs {
		if errors.Is(checkMediaType(v), ErrTAXII20) {
			return fmt.Errorf("%w (the API root offers %s)", ErrTAXII20, strings.Join(vs, ", "))
		}
	}
	return fmt.Errorf("%w: the API root offers %s, not %s", ErrMediaType, strings.Join(vs, ", "), MediaType)
}

// Collections lists the collections of the API root at root.
func (c *Client) Collections(ctx context.Context, root string) ([]Collection, error) {
	root = withSlash(root)
	var list struct {
		Collections []Collection `json:"collections"`
	}
	if _, err := c.get(ctx, root+"collections/", &list); err != nil {
		return nil, fmt.Errorf("taxii collections: %w", err)
	}
	for i := range list.Collections {
		list.Collections[i].APIRoot = root
	}
	return list.Collections, nil
}

// Resolve finds the collection named by collection — its id, else its
// title, else its alias (exactly, then regardless of case) — in the API
// root at root, after checking that the root speaks TAXII 2.1. A
// collection that cannot be read is returned with an error wrapping
// ErrNotReadable; one not listed is an error wrapping ErrNoCollection
// that lists the titles there are.
func (c *Client) Resolve(ctx context.Context, root, collection string) (Collection, error) {
	if _, err := c.APIRoot(ctx, root); err != nil {
		return Collection{}, err
	}
	list, err := c.Collections(ctx, root)
	if err != nil {
		return Collection{}, err
	}
	col, err := pick(list, collection)
	if err != nil {
		return Collection{}, fmt.Errorf("taxii API root %s: collection %q: %w", redacted(withSlash(root)), collection, err)
	}
	if !col.CanRead {
		return col, fmt.Errorf("taxii API root %s: collection %s: %w", redacted(col.APIRoot), col, ErrNotReadable)
	}
	return col, nil
}

// pick is the one rule of which listed collection a name means.
func pick(list []Collection, name string) (Collection, error) {
	for _, c := range list {
		if c.ID == name {
			return c, nil
		}
	}
	for _, same := range []func(a, b string) bool{
		func(a, b string) bool { return a == b },
		strings.EqualFold,
	} {
		var found []Collection
		for _, c := range list {
			if same(c.Title, name) || (c.Alias != "" && same(c.Alias, name)) {
				found = append(found, c)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			continue
		}
		ids := make([]string, len(found))
		for i, c := range found {
			ids[i] = c.ID
		}
		return Collection{}, fmt.Errorf("%d collections are called that (%s): give the id", len(found), strings.Join(ids, ", "))
	}
	titles := make([]string, len(list))
	for i, c := range list {
		titles[i] = c.String()
	}
	if len(titles) == 0 {
		return Collection{}, fmt.Errorf("%w (the API root lists none)", ErrNoCollection)
	}
	return Collection{}, fmt.Errorf("%w (the API root lists %s)", ErrNoCollection, strings.Join(titles, ", "))
}
