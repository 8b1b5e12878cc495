"""The seeded world: one data center, two clusters over three hosts, and VMs.

Everything is derived from the seed, so two runs with the same --seed serve the
same ids, names, statuses and guests. Guest facts (FQDN, IPs, OS) look like what
qemu-guest-agent reports to a real engine.
"""

import dataclasses
import random
import uuid

from .catalog import BLANK_TEMPLATE_ID

DATA_CENTER_NAME = "Default"
CLUSTERS = ("prod-cluster", "dev-cluster")
# Host name -> cluster index: two hosts in the first cluster, one in the second.
HOSTS = (("host-01", 0), ("host-02", 0), ("host-03", 1))
DOMAIN = "lab.example"

# Guest flavours: (os type in the VM config, guest OS as the agent reports it).
GUESTS = (
    ("rhel_9x64", {"family": "Linux", "distribution": "Red Hat Enterprise Linux", "codename": "Plow",
                   "version": "9.3", "kernel": "5.14.0-362.8.1.el9_3.x86_64"}),
    ("rhel_8x64", {"family": "Linux", "distribution": "Red Hat Enterprise Linux", "codename": "Ootpa",
                   "version": "8.9", "kernel": "4.18.0-513.5.1.el8_9.x86_64"}),
    ("other_linux", {"family": "Linux", "distribution": "Debian GNU/Linux", "codename": "bookworm",
                     "version": "12", "kernel": "6.1.0-13-amd64"}),
    ("windows_2019x64", {"family": "Windows", "distribution": "Microsoft Windows Server 2019",
                         "codename": "Windows Server 2019 Standard", "version": "10.0.17763", "kernel": ""}),
)


@dataclasses.dataclass
class Cluster:
    id: str
    name: str


@dataclasses.dataclass
class Host:
    id: str
    name: str
    cluster_id: str


@dataclasses.dataclass
class Vm:
    id: str
    name: str
    cluster_id: str
    home_host_id: str
    status: str
    os_type: str
    guest: dict
    agent: bool
    stubborn: bool
    index: int
    host_id: str = None
    memory: int = 4 * 1024 ** 3
    template_id: str = BLANK_TEMPLATE_ID
    creation_time: float = 0.0
    start_time: float = None
    stop_time: float = None
    stop_reason: str = None
    # Bumped by every action or out-of-band change: scheduled transitions of an
    # older generation are dropped (the newer command superseded them).
    gen: int = 0

    @property
    def fqdn(self):
        return "%s.%s" % (self.name, DOMAIN)

    @property
    def ipv4(self):
        return "10.%d.%d.%d" % (10 + self.index // 60000, (self.index // 250) % 240 + 1, self.index % 250 + 2)

    @property
    def ipv6(self):
        return "fd00:10::%x" % (self.index + 2)

    @property
    def mac(self):
        # 56:6f is the default MAC pool prefix of oVirt.
        return "56:6f:1a:%02x:%02x:%02x" % ((self.index >> 16) & 0xFF, (self.index >> 8) & 0xFF, self.index & 0xFF)


class Seeder:
    """Deterministic ids and VMs for one seed."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def new_id(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def world(self, vm_count, now):
        dc_id = self.new_id()
        clusters = [Cluster(self.new_id(), name) for name in CLUSTERS]
        hosts = [Host(self.new_id(), name, clusters[ci].id) for name, ci in HOSTS]
        vms = [self.vm(i + 1, clusters, hosts, now) for i in range(vm_count)]
        # Mostly up/down, exactly one suspended guest (when there are a few VMs).
        if len(vms) >= 3:
            self.rng.choice(vms[1:]).status = "suspended"
        for vm in vms:
            if vm.status in ("up",):
                vm.host_id = vm.home_host_id
                vm.start_time = now - self.rng.randint(3600, 90 * 86400)
            else:
                vm.stop_time = now - self.rng.randint(600, 30 * 86400)
        return dc_id, clusters, hosts, vms

    def vm(self, index, clusters, hosts, now, name=None, status=None):
        cluster = clusters[index % len(clusters)]
        in_cluster = [h for h in hosts if h.cluster_id == cluster.id]
        os_type, guest = self.rng.choice(GUESTS)
        return Vm(
            id=self.new_id(),
            name=name or "app-%02d" % index,
            cluster_id=cluster.id,
            home_host_id=self.rng.choice(in_cluster).id,
            status=status or ("up" if self.rng.random() < 0.6 else "down"),
            os_type=os_type,
            guest=guest,
            agent=self.rng.random() < 0.7,
            stubborn=self.rng.random() < 0.2,
            index=index,
            creation_time=now - self.rng.randint(30, 400) * 86400,
        )
