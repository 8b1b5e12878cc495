// vcsim-tags: the witness for vSphere tags. It seeds and reads tags on vcsim
// (tests/vcsim, which serves vCenter's vAPI tagging endpoints) with govmomi's
// own vapi/rest and vapi/tags packages, VMware's Go client, so Powerdeck's
// tag code is checked against a client it shares nothing with.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o target/vcsim-tags ./tests/vcsim/tags
//
//	vcsim-tags --url https://user:pass@127.0.0.1:PORT/sdk --insecure attach CATEGORY TAG VM-MOREF...
//	vcsim-tags --url ... --insecure detach CATEGORY TAG VM-MOREF...
//	vcsim-tags --url ... --insecure list [--all]
//
// attach creates the category (cardinality MULTIPLE, associable to
// VirtualMachine) and the tag in it if they are missing, then attaches the
// tag to each VM (by moref, like vm-42). detach detaches it (the category and
// the tag stay). Both check that each VM exists. list prints one line of JSON,
// every VM that has a tag, with its tags by category name, names sorted:
//
//	{"vm-42":{"env":["prod"],"team":["a","b"]},"vm-45":{"env":["prod"]}}
//
// With --all, VMs without tags are listed too, as {}. A --url without
// user:password logs in as user:pass (vcsim takes any pair unless run with
// -login). Errors go to stderr with exit status 1 (2 for a usage error).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vapi/rest"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

const usage = `usage:
  vcsim-tags --url https://USER:PASS@HOST:PORT/sdk [--insecure] attach CATEGORY TAG VM-MOREF...
  vcsim-tags --url ... [--insecure] detach CATEGORY TAG VM-MOREF...
  vcsim-tags --url ... [--insecure] list [--all]
`

func main() {
	flag.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	rawURL := flag.String("url", "", "the vcsim /sdk URL, with user:password (default user:pass)")
	insecure := flag.Bool("insecure", false, "do not verify the server's certificate")
	flag.Parse()
	args := flag.Args()
	if *rawURL == "" || len(args) == 0 {
		usageError("--url and a command are required")
	}
	u, err := url.Parse(*rawURL)
	if err != nil || u.Host == "" {
		usageError(fmt.Sprintf("bad --url %q", *rawURL))
	}
	if u.User == nil {
		// What vcsim prints; it accepts any non-empty pair unless run with -login.
		u.User = url.UserPassword("user", "pass")
	}

	cmd, args := args[0], args[1:]
	var run func(context.Context, *session) error
	switch cmd {
	case "attach", "detach":
		if len(args) < 3 {
			usageError(cmd + " needs CATEGORY TAG VM-MOREF...")
		}
		category, tag, vms := args[0], args[1], args[2:]
		if cmd == "attach" {
			run = func(ctx context.Context, s *session) error { return s.attach(ctx, category, tag, vms) }
		} else {
			run = func(ctx context.Context, s *session) error { return s.detach(ctx, category, tag, vms) }
		}
	case "list":
		fs := flag.NewFlagSet("list", flag.ContinueOnError)
		fs.Usage = flag.Usage
		all := fs.Bool("all", false, "also list VMs without tags")
		if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
			usageError("list takes only --all")
		}
		run = func(ctx context.Context, s *session) error { return s.list(ctx, *all) }
	default:
		usageError(fmt.Sprintf("unknown command %q", cmd))
	}

	ctx := context.Background()
	s, err := login(ctx, u, *insecure)
	if err != nil {
		fail(err)
	}
	err = run(ctx, s)
	s.logout(ctx)
	if err != nil {
		fail(err)
	}
}

func usageError(msg string) {
	fmt.Fprintf(os.Stderr, "vcsim-tags: %s\n%s", msg, usage)
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "vcsim-tags:", err)
	os.Exit(1)
}

// session is a SOAP login (to check and enumerate VMs) and a vAPI login (for
// tags) with the same credentials.
type session struct {
	soap *govmomi.Client
	rest *rest.Client
	tags *tags.Manager
}

func login(ctx context.Context, u *url.URL, insecure bool) (*session, error) {
	c, err := govmomi.NewClient(ctx, u, insecure)
	if err != nil {
		return nil, fmt.Errorf("SOAP login to %s: %w", u.Redacted(), err)
	}
	rc := rest.NewClient(c.Client)
	if err := rc.Login(ctx, u.User); err != nil {
		_ = c.Logout(ctx)
		return nil, fmt.Errorf("vAPI login (POST /rest/com/vmware/cis/session): %w", err)
	}
	return &session{soap: c, rest: rc, tags: tags.NewManager(rc)}, nil
}

func (s *session) logout(ctx context.Context) {
	_ = s.rest.Logout(ctx)
	_ = s.soap.Logout(ctx)
}

// vms turns morefs (vm-42, or VirtualMachine:vm-42) into references, and
// checks that each is a VM the server has: vcsim's tagging endpoints attach
// tags to anything, even objects that do not exist.
func (s *session) vms(ctx context.Context, morefs []string) ([]types.ManagedObjectReference, error) {
	pc := property.DefaultCollector(s.soap.Client)
	var refs []types.ManagedObjectReference
	for _, m := range morefs {
		ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: m}
		if kind, value, ok := strings.Cut(m, ":"); ok {
			ref = types.ManagedObjectReference{Type: kind, Value: value}
		}
		if ref.Type != "VirtualMachine" || ref.Value == "" {
			return nil, fmt.Errorf("%q is not a VM moref (like vm-42)", m)
		}
		var vm mo.VirtualMachine
		if err := pc.RetrieveOne(ctx, ref, []string{"name"}, &vm); err != nil {
			return nil, fmt.Errorf("no VM %s: %w", ref.Value, err)
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

// category finds a category by name; nil if there is none.
func (s *session) category(ctx context.Context, name string) (*tags.Category, error) {
	all, err := s.tags.GetCategories(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, nil
}

// tag finds a tag by name in a category; nil if there is none.
func (s *session) tag(ctx context.Context, categoryID, name string) (*tags.Tag, error) {
	ids, err := s.tags.ListTagsForCategory(ctx, categoryID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		t, err := s.tags.GetTag(ctx, id)
		if err != nil {
			return nil, err
		}
		if t.Name == name {
			return t, nil
		}
	}
	return nil, nil
}

func (s *session) attach(ctx context.Context, category, tag string, morefs []string) error {
	refs, err := s.vms(ctx, morefs)
	if err != nil {
		return err
	}
	cat, err := s.category(ctx, category)
	if err != nil {
		return err
	}
	catID := ""
	if cat != nil {
		catID = cat.ID
	} else {
		catID, err = s.tags.CreateCategory(ctx, &tags.Category{
			Name:            category,
			Cardinality:     "MULTIPLE",
			AssociableTypes: []string{"VirtualMachine"},
		})
		if err != nil {
			return fmt.Errorf("create category %q: %w", category, err)
		}
	}
	t, err := s.tag(ctx, catID, tag)
	if err != nil {
		return err
	}
	tagID := ""
	if t != nil {
		tagID = t.ID
	} else {
		tagID, err = s.tags.CreateTag(ctx, &tags.Tag{Name: tag, CategoryID: catID})
		if err != nil {
			return fmt.Errorf("create tag %q in %q: %w", tag, category, err)
		}
	}
	for _, ref := range refs {
		if err := s.tags.AttachTag(ctx, tagID, ref); err != nil {
			return fmt.Errorf("attach %s/%s to %s: %w", category, tag, ref.Value, err)
		}
	}
	return nil
}

func (s *session) detach(ctx context.Context, category, tag string, morefs []string) error {
	refs, err := s.vms(ctx, morefs)
	if err != nil {
		return err
	}
	cat, err := s.category(ctx, category)
	if err != nil {
		return err
	}
	if cat == nil {
		return fmt.Errorf("no category %q", category)
	}
	t, err := s.tag(ctx, cat.ID, tag)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("no tag %q in category %q", tag, category)
	}
	for _, ref := range refs {
		if err := s.tags.DetachTag(ctx, t.ID, ref); err != nil {
			return fmt.Errorf("detach %s/%s from %s: %w", category, tag, ref.Value, err)
		}
	}
	return nil
}

func (s *session) list(ctx context.Context, all bool) error {
	m := view.NewManager(s.soap.Client)
	v, err := m.CreateContainerView(ctx, s.soap.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return err
	}
	defer func() { _ = v.Destroy(ctx) }()
	refs, err := v.Find(ctx, []string{"VirtualMachine"}, nil)
	if err != nil {
		return err
	}
	out := map[string]map[string][]string{}
	if len(refs) > 0 {
		objs := make([]mo.Reference, len(refs))
		for i := range refs {
			objs[i] = refs[i]
		}
		attached, err := s.tags.GetAttachedTagsOnObjects(ctx, objs)
		if err != nil {
			return err
		}
		categories := map[string]string{} // id -> name
		for _, a := range attached {
			vm := a.ObjectID.Reference().Value
			for _, t := range a.Tags {
				name, ok := categories[t.CategoryID]
				if !ok {
					c, err := s.tags.GetCategory(ctx, t.CategoryID)
					if err != nil {
						return fmt.Errorf("get category %s: %w", t.CategoryID, err)
					}
					name = c.Name
					categories[t.CategoryID] = name
				}
				if out[vm] == nil {
					out[vm] = map[string][]string{}
				}
				out[vm][name] = append(out[vm][name], t.Name)
			}
		}
	}
	for _, byCat := range out {
		for _, names := range byCat {
			sort.Strings(names)
		}
	}
	if all {
		for _, ref := range refs {
			if out[ref.Value] == nil {
				out[ref.Value] = map[string][]string{}
			}
		}
	}
	// encoding/json writes map keys sorted.
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if _, err := fmt.Println(string(b)); err != nil {
		return fmt.Errorf("cannot write the list: %w", err)
	}
	return nil
}
