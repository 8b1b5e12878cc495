// vcsim launcher for Powerdeck's vSphere tests (issue 5). Debian ships
// govmomi's simulator library but not the vcsim program; this is ours.
//
//	apt-get install -y golang-go golang-github-vmware-govmomi-dev
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o target/vcsim ./tests/vcsim
//	target/vcsim -vm 250 -l 127.0.0.1:0     # prints the /sdk URL, serves until killed
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"math/big"
	"net"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	listen := flag.String("l", "127.0.0.1:0", "address to listen on")
	esx := flag.Bool("esx", false, "a standalone ESXi host instead of vCenter")
	vms := flag.Int("vm", 2, "VMs per resource pool")
	hosts := flag.Int("host", 3, "hosts per cluster (vCenter model)")
	idle := flag.Duration("idle", 0, "session idle timeout (0: never)")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a self-signed certificate")
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
	if *useTLS {
		cert, err := selfSigned()
		if err != nil {
			fmt.Fprintln(os.Stderr, "vcsim: cannot make a certificate:", err)
			os.Exit(1)
		}
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	server := model.Service.NewServer()
	// The first line is the endpoint; tests read it to know the port.
	fmt.Println(server.URL.String())
	for {
		time.Sleep(time.Hour)
	}
}

// selfSigned makes a 2048-bit self-signed certificate, like an ESXi host's
// out of the box (Go's built-in test certificate is 1024-bit, which modern
// TLS stacks rightly refuse).
func selfSigned() (tls.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{Organization: []string{"Powerdeck vcsim"}, CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
