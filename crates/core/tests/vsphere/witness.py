#!/usr/bin/env python3
"""pyvmomi (VMware's official Python SDK) as the independent witness of what
vcsim holds: every VM's id, name and power state, as JSON on stdout.
   witness.py URL"""

import json
import sys
from urllib.parse import urlparse

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim


def main():
    url = urlparse(sys.argv[1])
    si = SmartConnect(protocol=url.scheme, host=url.hostname, port=url.port, path=url.path, user="witness", pwd="witness", disableSslCertValidation=True)
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        out = [{"id": vm._moId, "name": vm.name, "power": str(vm.runtime.powerState)} for vm in view.view]
        json.dump(out, sys.stdout)
    finally:
        Disconnect(si)


if __name__ == "__main__":
    main()
