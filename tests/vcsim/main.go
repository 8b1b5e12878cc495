// vcsim launcher for Powerdeck's vSphere tests (issue 5). Debian ships
// govmomi's simulator library but not the vcsim program; this is ours.
//
//	apt-get install -y golang-go golang-github-vmware-govmomi-dev
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o target/vcsim ./tests/vcsim
//	target/vcsim -vm 250 -l 127.0.0.1:0     # prints the /sdk URL, serves until killed
package main

import (
	"flag"
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
	server := model.Service.NewServer()
	// The first line is the endpoint; tests read it to know the port.
	fmt.Println(server.URL.String())
	for {
		time.Sleep(time.Hour)
	}
}
