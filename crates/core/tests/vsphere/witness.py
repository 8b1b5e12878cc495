#!/usr/bin/env python3
"""pyvmomi (VMware's official Python SDK) as the independent witness of what
vcsim holds, and as "another admin" changing it behind Powerdeck's back.
   witness.py URL                 every VM's id, name, power state, host name,
                                  tools status, instance UUID and guest OS,
                                  as JSON on stdout
   witness.py URL destroy VM-ID   power the VM off if needed, then delete it
   witness.py URL power-off VM-ID / power-on VM-ID   as another admin would
The login is VCSIM_USER / VCSIM_PASSWORD (any, unless vcsim runs with -login)."""

import json
import os
import sys
from urllib.parse import urlparse

import time

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim


def wait_for(task):
    """Poll the task. (pyVim's WaitForTask uses WaitForUpdates, and vcsim 0.24
    keeps one update listener per PropertyCollector id for all sessions, so
    it would take the change feed away from the Powerdeck under test.)"""
    while task.info.state in ("queued", "running"):
        time.sleep(0.05)
    if task.info.state != "success":
        raise RuntimeError(task.info.error)


def main():
    url = urlparse(sys.argv[1])
    si = SmartConnect(protocol=url.scheme, host=url.hostname, port=url.port, path=url.path, user=os.environ.get("VCSIM_USER", "witness"), pwd=os.environ.get("VCSIM_PASSWORD", "witness"), disableSslCertValidation=True)
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        if sys.argv[2:3] in (["power-off"], ["power-on"]):
            vm = next(vm for vm in view.view if vm._moId == sys.argv[3])
            wait_for(vm.PowerOffVM_Task() if sys.argv[2] == "power-off" else vm.PowerOnVM_Task())
            return
        if sys.argv[2:3] == ["destroy"]:
            vm = next(vm for vm in view.view if vm._moId == sys.argv[3])
            if vm.runtime.powerState != "poweredOff":
                wait_for(vm.PowerOffVM_Task())
            wait_for(vm.Destroy_Task())
            return
        out = [
            {
                "id": vm._moId,
                "name": vm.name,
                "power": str(vm.runtime.powerState),
                "host": vm.runtime.host.name,
                "tools": vm.guest.toolsRunningStatus,
                "uuid": vm.config.instanceUuid,
                "os": vm.config.guestFullName,
            }
            for vm in view.view
        ]
        json.dump(out, sys.stdout)
    finally:
        Disconnect(si)


if __name__ == "__main__":
    main()
