// vcsim launcher for Powerdeck's vSphere tests (issue 5). Debian ships
// govmomi's simulator library but not the vcsim program; this is ours.
//
//	apt-get install -y golang-go golang-github-vmware-govmomi-dev
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o target/vcsim ./tests/vcsim
//	target/vcsim -vm 250 -l 127.0.0.1:0     # prints the /sdk URL, serves until killed
//
// With the vCenter model it also serves vCenter's vAPI REST endpoints for
// tags under /rest (tests/vcsim/tags is the witness that seeds and reads them).
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	// vCenter's vAPI REST endpoints (/rest/com/vmware/cis/session and
	// /rest/com/vmware/cis/tagging/...) for tags: they register themselves
	// here and are served when RegisterEndpoints is set (vCenter model only).
	_ "github.com/vmware/govmomi/vapi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("l", "127.0.0.1:0", "address to listen on")
	esx := flag.Bool("esx", false, "a standalone ESXi host instead of vCenter")
	vms := flag.Int("vm", 2, "VMs per resource pool")
	hosts := flag.Int("host", 3, "hosts per cluster (vCenter model)")
	idle := flag.Duration("idle", 0, "session idle timeout (0: never)")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a self-signed certificate")
	caOut := flag.String("ca", "", "with -tls: sign the certificate with a new CA instead, and write the CA (PEM) to this file")
	login := flag.String("login", "", "the only user:password accepted (default: any non-empty pair)")
	tools := flag.Int("tools", 0, "how many VMs (first by name) have VMware Tools installed")
	toolsBoot := flag.Duration("tools-boot", time.Second, "how long after power-on their tools report running")
	flag.Parse()

	model := simulator.VPX()
	if *esx {
		model = simulator.ESX()
	} else {
		model.Host = *hosts
	}
	model.Machine = *vms
	if *idle > 0 {
		simulator.SessionIdleTimeout = *idle
	}
	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim: cannot build the model:", err)
		os.Exit(1)
	}
	model.Service.Listen = &url.URL{Host: *listen}
	if user, pass, ok := strings.Cut(*login, ":"); ok {
		model.Service.Listen.User = url.UserPassword(user, pass)
	}
	if *useTLS {
		cert, err := selfSigned()
		if *caOut != "" {
			cert, err = caSigned(*caOut)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vcsim: cannot make a certificate:", err)
			os.Exit(1)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	// Serve the vAPI endpoints next to /sdk. Their login accepts any
	// non-empty user and password, even with -login.
	model.Service.RegisterEndpoints = true
	server := model.Service.NewServer()
	if *tools > 0 {
		guestTools(*tools, *toolsBoot)
	}
	// The first line is the endpoint; tests read it to know the port.
	fmt.Println(server.URL.String())
	for {
		time.Sleep(time.Hour)
	}
}

// guestTools makes the first n VMs (by name) behave as if VMware Tools were
// installed in their guests: tools stop reporting the moment the VM leaves
// poweredOn and report running a boot time after each power-on. vcsim alone
// leaves every VM at guestToolsNotRunning forever.
func guestTools(n int, boot time.Duration) {
	var vms []*simulator.VirtualMachine
	for _, e := range simulator.Map.All("VirtualMachine") {
		vms = append(vms, e.(*simulator.VirtualMachine))
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name < vms[j].Name })
	if n > len(vms) {
		n = len(vms)
	}
	h := &toolsHandler{boot: boot, vms: map[types.ManagedObjectReference]bool{}}
	for _, vm := range vms[:n] {
		h.vms[vm.Reference()] = true
		// VMs already on when the simulator starts booted long ago.
		simulator.Map.WithLock(vm, func() { h.set(vm.Reference(), vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn) })
	}
	simulator.Map.AddHandler(h)
}

// toolsHandler hears every change the simulator makes (as its property
// collector does) and follows power changes in the same breath, so no
// reader ever sees a powered-off VM with running tools.
type toolsHandler struct {
	boot time.Duration
	vms  map[types.ManagedObjectReference]bool
}

func (h *toolsHandler) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "PowerdeckGuestTools", Value: "guest-tools"}
}

func (h *toolsHandler) PutObject(mo.Reference)                    {}
func (h *toolsHandler) RemoveObject(types.ManagedObjectReference) {}

func (h *toolsHandler) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	ref := obj.Reference()
	if !h.vms[ref] {
		return
	}
	for _, c := range changes {
		if c.Name != "runtime.powerState" {
			continue
		}
		// The caller holds the VM's lock.
		h.set(ref, false)
		if vm, ok := obj.(*mo.VirtualMachine); ok && vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			boot := vm.Summary.Runtime.BootTime
			time.AfterFunc(h.boot, func() {
				e := simulator.Map.Get(ref)
				if e == nil {
					return
				}
				v := e.(*simulator.VirtualMachine)
				simulator.Map.WithLock(v, func() {
					// Still the same boot: the guest is up.
					if v.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn && sameTime(v.Summary.Runtime.BootTime, boot) {
						h.set(ref, true)
					}
				})
			})
		}
	}
}

func (h *toolsHandler) set(ref types.ManagedObjectReference, up bool) {
	want := string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
	if up {
		want = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
	}
	simulator.Map.Update(simulator.Map.Get(ref), []types.PropertyChange{
		{Name: "guest.toolsRunningStatus", Val: want},
		{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsOk},
		{Name: "summary.guest.toolsRunningStatus", Val: want},
	})
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// selfSigned makes a 2048-bit self-signed certificate, like an ESXi host's
// out of the box (Go's built-in test certificate is 1024-bit, which modern
// TLS stacks rightly refuse).
func selfSigned() (tls.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := serverTemplate()
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// caSigned makes a certificate signed by a fresh CA, as a company CA (or
// vCenter's VMCA) would issue it, and writes the CA to caFile so a test can
// install it as a system root.
func caSigned(caFile string) (tls.Certificate, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, err
	}
	caTmpl := x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{Organization: []string{"Powerdeck test CA"}, CommonName: "Powerdeck test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, &caTmpl, &caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := serverTemplate()
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, nil
}

// serverTemplate is the server certificate both kinds share: for 127.0.0.1
// and localhost, valid for a day.
func serverTemplate() x509.Certificate {
	return x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{Organization: []string{"Powerdeck vcsim"}, CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
}
