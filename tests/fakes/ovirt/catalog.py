"""The engine's own words: VM statuses, validation messages and audit-log events.

Every string here was read in the oVirt engine sources (oVirt/ovirt-engine,
master, read 2026-11); the file each one comes from is named next to it. The
fake only ever says what the engine says.
"""

# VmStatus values as the v4 API spells them (api-model types/VmStatus.java;
# ovirtsdk4 types.py VmStatus; engine restapi VmMapper.mapVmStatus).
STATUSES = (
    "up", "down", "powering_up", "powering_down", "reboot_in_progress", "paused",
    "suspended", "saving_state", "restoring_state", "migrating", "wait_for_launch",
    "image_locked", "not_responding", "unknown", "unassigned",
)

# The engine's VMStatus enum name for each API status (common/businessentities/
# VMStatus.java); used where a message prints VMStatus.name().
ENGINE_NAME = {
    "up": "Up", "down": "Down", "powering_up": "PoweringUp", "powering_down": "PoweringDown",
    "reboot_in_progress": "RebootInProgress", "paused": "Paused", "suspended": "Suspended",
    "saving_state": "SavingState", "restoring_state": "RestoringState", "migrating": "MigratingFrom",
    "wait_for_launch": "WaitForLaunch", "image_locked": "ImageLocked",
    "not_responding": "NotResponding", "unknown": "Unknown", "unassigned": "Unassigned",
}

# How validation messages name a status (LocalizedVmStatus + AppErrors.properties
# VAR__VM_STATUS__*).
LOCALIZED = {
    "up": "Up", "down": "Down", "powering_up": "Powering Up", "powering_down": "Powering Down",
    "reboot_in_progress": "Reboot in Progress", "paused": "Paused", "suspended": "Suspended",
    "saving_state": "Saving State", "restoring_state": "Restoring State", "migrating": "Migrating",
    "wait_for_launch": "Wait for Launch", "image_locked": "Image Locked",
    "not_responding": "Not Responding", "unknown": "Unknown", "unassigned": "Unassigned",
}

# VMStatus.isRunning() (VMStatus.java): the statuses in which a qemu process exists.
RUNNING = ("up", "powering_down", "powering_up", "migrating", "wait_for_launch", "reboot_in_progress")
# VMStatus.isNotRunning(): the VM XML has no <host>, <fqdn>, guest OS... (VmMapper.map,
# "fill dynamic data" only when !isNotRunning()).
NOT_RUNNING = ("down", "suspended", "image_locked")

# The action verb each command puts in its validation messages
# (setActionMessageParameters + AppErrors.properties VAR__ACTION__*).
VERB = {"start": "run", "stop": "stop", "shutdown": "shutdown", "reboot": "restart",
        "reset": "reset", "suspend": "hibernate"}

# Validation messages (frontend/.../AppErrors.properties) with the HTTP status the
# REST layer derives from their ErrorType (EngineMessage.java + ErrorMessageHelper:
# CONFLICT -> 409, BAD_PARAMETERS -> 400).
MSG_STATUS_ILLEGAL = ("Cannot {verb} VM because the VM is in {status} status.", 409)
MSG_NOT_RUNNING = ("Cannot {verb} VM. VM is not running.", 409)
MSG_NOT_UP = ("Cannot {verb} VM. VM is not up.", 409)
MSG_LOCKED = ("Cannot {verb} VM: VM is locked. Please try again in a few minutes.", 409)
MSG_SAVING_RESTORING = ("Cannot {verb} VM. VM is in saving/restoring state.\n"
                        "-Please try again when the VM is either up or down.", 409)
MSG_NOT_FOUND = ("Cannot {verb} VM. VM is not found.", 400)
# Reason of every REST fault built from a backend failure
# (restapi .../logging/Messages.properties BACKEND_FAILED).
FAULT_REASON = "Operation Failed"

# Execute-failure texts (dal bundles/VdsmErrors.properties), used by /_fake/fail.
VDSM_ERRORS = {"destroyErr": "Virtual machine destroy error", "GeneralException": "General Exception",
               "noVM": "Desktop does not exist"}
DEFAULT_FAILURE = {"stop": "destroyErr", "shutdown": "destroyErr", "reboot": "GeneralException",
                   "reset": "GeneralException", "start": "GeneralException", "suspend": "GeneralException"}

# Audit log types used by the fake: code -> (AuditLogType name, severity, message).
# Codes and severities: common/AuditLogType.java. Messages:
# dal/src/main/resources/bundles/AuditLogMessages.properties. "Command" events are
# logged by the command that the REST call ran and carry its correlation id;
# "monitoring" events are logged by VmAnalyzer and carry none.
EVENTS = {
    30: ("USER_VDC_LOGIN", "normal",
         "User {user} connecting from '{ip}' using session '{session}' logged in."),
    31: ("USER_VDC_LOGOUT", "normal",
         "User {user} connected from '{ip}' using session '{session}' logged out."),
    32: ("USER_RUN_VM", "normal", "VM {vm} started on Host {host}"),
    33: ("USER_STOP_VM", "normal", "VM {vm} powered off by {user} (Host: {host}){reason}."),
    34: ("USER_ADD_VM", "normal", "VM {vm} was created by {user}."),
    40: ("USER_RESUME_VM", "normal", "VM {vm} was resumed by {user} (Host: {host})."),
    54: ("USER_FAILED_RUN_VM", "error", "Failed to run VM {vm}  (User: {user})."),
    56: ("USER_FAILED_STOP_VM", "error", "Failed to power off VM {vm} (Host: {host}, User: {user})."),
    61: ("VM_DOWN", "normal", "VM {vm} is down. {exit}"),
    62: ("VM_MIGRATION_START", "normal",
          "Migration started (VM: {vm}, Source: {host}, Destination: {dest}, User: {user}). "),
    73: ("USER_INITIATED_SHUTDOWN_VM", "normal",
         "VM shutdown initiated by {user} on VM {vm} (Host: {host}){reason}."),
    74: ("USER_FAILED_SHUTDOWN_VM", "error",
         "Failed to initiate shutdown on VM {vm} (Host: {host}, User: {user})."),
    76: ("USER_STOPPED_VM_INSTEAD_OF_SHUTDOWN", "normal",
         "VM {vm} was powered off ungracefully by {user} (Host: {host}){reason}."),
    111: ("USER_STOP_SUSPENDED_VM", "normal",
          "Suspended VM {vm} has had its save state cleared by {user}{reason}."),
    113: ("USER_REMOVE_VM_FINISHED", "normal", "VM {vm} was successfully removed by {user}."),
    119: ("VM_DOWN_ERROR", "error", "VM {vm} is down with error. {exit}."),
    126: ("VM_NOT_RESPONDING", "warning", "VM {vm} is not responding."),
    142: ("VM_SET_TO_UNKNOWN_STATUS", "warning", "VM {vm} was set to the Unknown status."),
    147: ("VM_POWER_DOWN_FAILED", "warning", "Shutdown of VM {vm} failed."),
    153: ("USER_STARTED_VM", "normal", "VM {vm} was started by {user} (Host: {host})."),
    157: ("USER_REBOOT_VM", "normal", "VM {vm} is rebooting. Rebooted by: {user}"),
    158: ("USER_FAILED_REBOOT_VM", "error", "Failed to reboot VM {vm} (User: {user})."),
    163: ("VM_STATUS_RESTORED", "normal", "VM {vm} status was restored to {status}."),
    221: ("USER_RESET_VM", "normal", "VM {vm} is resetting. Reset by: {user}"),
    222: ("USER_FAILED_RESET_VM", "error", "Failed to reset VM {vm} (User: {user})."),
    254: ("VM_ALREADY_IN_REQUESTED_STATUS", "normal",
          "VM {vm} is already {status}, {action} was skipped. User: {user}."),
    501: ("USER_SUSPEND_VM", "normal", "Suspending VM {vm} was initiated by User {user} (Host: {host})."),
    503: ("USER_SUSPEND_VM_OK", "normal", "VM {vm} on Host {host} is suspended."),
    521: ("USER_SUSPEND_VM_FINISH_FAILURE", "error", "Failed to complete suspending of VM {vm}."),
    1025: ("VM_PAUSED", "normal", "VM {vm} has been paused."),
}

# Exit messages vdsm reports for a VM that went down (vdsm vmexitreason; the
# engine prints them after "Exit message: "). A power-off by the engine prints
# a blank instead (VmAnalyzer.auditVmOnDownNormal with powerOff=true).
EXIT_ADMIN_SHUTDOWN = "Exit message: Admin shut down from the engine"
EXIT_GUEST_SHUTDOWN = "Exit message: User shut down from within the guest"
EXIT_POWER_OFF = " "
EXIT_LAUNCH_ERROR = "Exit message: internal error: process exited while connecting to monitor"

# Job descriptions (dal bundles/ExecutionMessages.properties job.*).
JOB_DESCRIPTION = {
    "start": "Launching VM {vm}", "stop": "Stopping VM {vm}", "shutdown": "Shutting down VM {vm}",
    "reboot": "Rebooting VM {vm}", "reset": "Resetting VM {vm}",
    "suspend": "Performing Hibernate action on VM {vm}",
}

# SSO answers (enginesso SsoConstants.java, AppMessages.properties, OAuthTokenServlet,
# SsoService.sendJsonDataWithMessage). Errors are HTTP 400; with scope ovirt-app-api
# alone they use {"error_code", "error"}, otherwise OAuth's {"error", "error_description"}.
SSO_BAD_CREDENTIALS = "Cannot authenticate user '{user}@{profile}': The username or password is incorrect.."
SSO_BAD_PROFILE = "Cannot authenticate user '{user}@{profile}': No valid profile found in credentials.."
SSO_BAD_ACCEPT = "Missing parameter: 'Accept Header'"
SSO_BAD_GRANT = "The authorization grant type is not supported by the authorization server."
# What the API's auth filter reports for a token it cannot use (aaa SsoRestApiAuthFilter
# + FiltersHelper.isStatusOk + AppMessages INVALID_GRANT).
API_TOKEN_INVALID = "invalid_grant: The provided authorization grant for the auth code has expired."
API_SCOPE_MISSING = "The required scope ovirt-app-api is not granted."
# The scope the SSO grants for "ovirt-app-api" (dbscripts sso_scope_dependency,
# sorted as TreeSet does in SsoService.resolveScopeWithDependencies).
API_SCOPE_GRANTED = ("ovirt-app-api ovirt-ext=token-info:authz-search ovirt-ext=token-info:public-authz-search "
                     "ovirt-ext=token-info:validate ovirt-ext=token:password-access")
# The well-known id of admin@internal in every oVirt database.
ADMIN_USER_ID = "fdfc627c-d875-11e0-90f0-83df133b58cc"
BLANK_TEMPLATE_ID = "00000000-0000-0000-0000-000000000000"

# Tags (bll/TagsDirector.java, AddTagCommand.java, RemoveTagCommand.java; common Tags.java,
# ValidationUtils.NO_SPECIAL_CHARACTERS_I18N, BusinessEntitiesDefinitions.TAG_NAME_SIZE;
# texts: AppErrors.properties; statuses: EngineMessage ErrorType via ErrorMessageHelper).
# The root is an in-memory pseudo-tag: id Guid.Empty, name and description "root", no parent.
ROOT_TAG_ID = "00000000-0000-0000-0000-000000000000"
ROOT_TAG_NAME = "root"
TAG_NAME_SIZE = 50
MSG_TAG_IN_USE = ("The specified Tag name already exists.", 409)                  # TAGS_SPECIFY_TAG_IS_IN_USE
MSG_TAG_BAD_NAME = ("Invalid tag name. Only letters, numbers, '-', and '_' are valid characters.",
                    400)                                                           # VALIDATION_TAGS_INVALID_TAG_NAME
MSG_TAG_NAME_SIZE = ("size must be between 1 and %d" % TAG_NAME_SIZE, 400)         # @Size default text
# ValidationUtils.validateInputs adds ACTION_TYPE_FAILED_ATTRIBUTE_PATH ("Attribute: ${path}");
# the path is the parameters' field path (TagsOperationParameters._tag -> Tags.name).
TAG_NAME_ATTRIBUTE = "Attribute: _tag.name"
MSG_TAG_REMOVE_MISSING = ("Cannot remove tag. Tag does not exist.", 400)           # TAGS_CANNOT_REMOVE_TAG_NOT_EXIST
# restapi logging/Messages.properties: CompletenessAssertor and EntityNotFoundException texts.
INCOMPLETE_PARAMS_REASON = "Incomplete parameters"
INCOMPLETE_PARAMS_DETAIL = "{model} [{fields}] required for {method}"
ENTITY_NOT_FOUND = "Entity not found: {0}"
