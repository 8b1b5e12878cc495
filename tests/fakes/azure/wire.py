"""JSON bodies exactly in the shapes of Microsoft's examples and libcloud's
captures (shared/fixtures/azure/): VMs, instance views, statusOnly entries,
async-operation status, subscriptions, ARM and AAD errors, OpenID discovery.
"""

import datetime
import uuid


def arm_time(epoch):
    """ARM's timestamps: 7 fractional digits and an explicit +00:00
    (spec example: "2019-10-14T21:30:12.8051917+00:00")."""
    dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d0+00:00" % dt.microsecond


def arm_error(code, message):
    return {"error": {"code": code, "message": message}}


# ------------------------------------------------------------------ statuses
_POWER_DISPLAY = {
    "starting": "VM starting", "running": "VM running", "stopping": "VM stopping",
    "stopped": "VM stopped", "deallocating": "VM deallocating", "deallocated": "VM deallocated",
}


def provisioning_status(vm):
    if vm.provisioning == "updating":
        # libcloud's capture: ProvisioningState/updating carries no time.
        return {"code": "ProvisioningState/updating", "level": "Info", "displayStatus": "Updating"}
    if vm.provisioning == "failed":
        code = "ProvisioningState/failed" + ("/" + vm.provisioning_code if vm.provisioning_code else "")
        return {"code": code, "level": "Error", "displayStatus": "Provisioning failed",
                "message": "The last operation on VM '%s' failed with error code '%s'."
                           % (vm.name, vm.provisioning_code or "InternalExecutionError"),
                "time": arm_time(vm.provisioning_time)}
    return {"code": "ProvisioningState/succeeded", "level": "Info",
            "displayStatus": "Provisioning succeeded", "time": arm_time(vm.provisioning_time)}


def statuses(vm):
    out = [provisioning_status(vm),
           # The PowerState status has no time (spec example, libcloud capture).
           {"code": "PowerState/" + vm.power, "level": "Info", "displayStatus": _POWER_DISPLAY[vm.power]}]
    if vm.hibernated and vm.power == "deallocated":
        out.append({"code": "HibernationState/Hibernated", "level": "Info", "displayStatus": "VM hibernated"})
    return out


def power_code(vm):
    return "PowerState/" + vm.power


# ------------------------------------------------------------- instance view
def instance_view(vm, name=None):
    """Body of GET …/instanceView (spec VirtualMachine_Get_InstanceView)."""
    name = name if name is not None else vm.name
    linux = vm.os_type == "Linux"
    body = {}
    if vm.power != "deallocated":
        body["platformUpdateDomain"] = 0
        body["platformFaultDomain"] = 0
    body["computerName"] = name
    if vm.power in ("running", "stopping"):
        body["osName"] = "ubuntu" if linux else "Windows Server 2022 Datacenter"
        body["osVersion"] = "22.04" if linux else "Microsoft Windows NT 10.0.20348.0"
        body["vmAgent"] = {
            "vmAgentVersion": "2.11.1.12" if linux else "2.7.41491.1102",
            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Ready",
                          "message": "GuestAgent is running and accepting new configurations.",
                          "time": arm_time(vm.provisioning_time)}],
            "extensionHandlers": [],
        }
    body["disks"] = [{"name": "%s_OsDisk_1_%s" % (vm.name, vm.vm_id.replace("-", "")[:32]),
                      "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                    "displayStatus": "Provisioning succeeded",
                                    "time": arm_time(vm.time_created + 30)}]}]
    body["hyperVGeneration"] = "V2"
    body["isVMInStandbyPool"] = False
    body["statuses"] = statuses(vm)
    return body


# ------------------------------------------------------------------------ VM
def _image(vm):
    if vm.os_type == "Windows":
        return {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                "sku": "2022-datacenter-azure-edition", "version": "latest", "exactVersion": "20348.2527.240605"}
    return {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
            "sku": "22_04-lts-gen2", "version": "latest", "exactVersion": "22.04.202406140"}


def vm_body(vm, *, resource_group=None, name=None, with_instance_view=False):
    """A full VirtualMachine resource (list without statusOnly, and GET)."""
    rid = vm.resource_id(resource_group)
    if name is not None:
        rid = rid.rsplit("/", 1)[0] + "/" + name
    base = rid.split("/providers/")[0]
    disk = "%s_OsDisk_1_%s" % (vm.name, vm.vm_id.replace("-", "")[:32])
    os_profile = {"computerName": name or vm.name, "adminUsername": "azureuser", "secrets": [],
                  "allowExtensionOperations": True, "requireGuestProvisionSignal": True}
    if vm.os_type == "Linux":
        os_profile["linuxConfiguration"] = {"disablePasswordAuthentication": True, "provisionVMAgent": True,
                                            "patchSettings": {"patchMode": "ImageDefault",
                                                              "assessmentMode": "ImageDefault"}}
    else:
        os_profile["windowsConfiguration"] = {"provisionVMAgent": True, "enableAutomaticUpdates": True,
                                              "patchSettings": {"patchMode": "AutomaticByOS",
                                                                "assessmentMode": "ImageDefault"}}
    props = {
        "vmId": vm.vm_id,
        "additionalCapabilities": {"hibernationEnabled": vm.hibernation_enabled},
        "hardwareProfile": {"vmSize": vm.size},
        "storageProfile": {
            "imageReference": _image(vm),
            "osDisk": {"osType": vm.os_type, "name": disk, "createOption": "FromImage", "caching": "ReadWrite",
                       "managedDisk": {"storageAccountType": "Premium_LRS",
                                       "id": base + "/providers/Microsoft.Compute/disks/" + disk},
                       "deleteOption": "Delete", "diskSizeGB": 30 if vm.os_type == "Linux" else 127},
            "dataDisks": [],
        },
        "osProfile": os_profile,
        "networkProfile": {"networkInterfaces": [
            {"id": base + "/providers/Microsoft.Network/networkInterfaces/%s-nic" % vm.name}]},
        "provisioningState": {"succeeded": "Succeeded", "updating": "Updating", "failed": "Failed"}[vm.provisioning],
        "timeCreated": arm_time(vm.time_created),
    }
    if with_instance_view:
        props["instanceView"] = instance_view(vm, name)
    return {"name": name if name is not None else vm.name, "id": rid, "type": "Microsoft.Compute/virtualMachines",
            "location": vm.location, "tags": dict(vm.tags), "properties": props}


def vm_status_only(vm, *, resource_group=None, name=None):
    """A list entry with statusOnly=true: identity plus runtime status only.

    No tags, profiles or OS details: with statusOnly ARM leaves them out
    (Azure/azure-sdk-for-go#18565: tags are nil with StatusOnly and present
    without it). [unverified against a live recording]
    """
    rid = vm.resource_id(resource_group)
    if name is not None:
        rid = rid.rsplit("/", 1)[0] + "/" + name
    return {"name": name if name is not None else vm.name, "id": rid, "type": "Microsoft.Compute/virtualMachines",
            "location": vm.location,
            "properties": {"vmId": vm.vm_id, "instanceView": {"statuses": statuses(vm)}}}


# ------------------------------------------------------------- subscriptions
def subscription_body(sub, tenant):
    return {"id": "/subscriptions/" + sub["id"], "authorizationSource": "RoleBased", "managedByTenants": [],
            "subscriptionId": sub["id"], "tenantId": tenant, "displayName": sub["display_name"],
            "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}}


# ---------------------------------------------------------------- operations
def operation_status(op, name=None):
    """Body of the Azure-AsyncOperation URL (ARM async operation resource)."""
    body = {"startTime": arm_time(op.started), "status": op.status, "name": name or op.op_id}
    if op.ended is not None and op.status != "InProgress":
        body["endTime"] = arm_time(op.ended)
    if op.error:
        body["error"] = {"code": op.error[0], "message": op.error[1]}
    return body


# ----------------------------------------------------------------------- AAD
def openid_configuration(base, tenant):
    t = base + "/" + tenant
    return {
        "token_endpoint": t + "/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": t + "/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": t + "/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": base + "/oidc/userinfo",
        "authorization_endpoint": t + "/oauth2/v2.0/authorize",
        "device_authorization_endpoint": t + "/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": t + "/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                             "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                             "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": t + "/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def aad_error(error, codes, description):
    """AAD's error body: OAuth2 error plus AADSTS details."""
    now = datetime.datetime.now(datetime.timezone.utc)
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    return {
        "error": error,
        "error_description": "%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
                             % (description, trace, corr, now.strftime("%Y-%m-%d %H:%M:%SZ")),
        "error_codes": codes,
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": "https://login.microsoftonline.com/error?code=%d" % codes[0],
    }
