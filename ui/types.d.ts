// The shapes the window receives over IPC. The core's types are generated
// from the Rust ones by ts-rs into ui/generated/ (`cargo test` writes them;
// they are not committed) and re-exported here, as are the shell's own
// (src-tauri/src/commands.rs, inventory.rs, ipc_error.rs). What is still
// written by hand below has a hand-written Serialize or serde defaults
// that ts-rs cannot render (runbooks, groups, schedules).
// `tsc --checkJs` checks every module against them; nothing here is shipped.

import type { PowerState as PowerStateRs } from "./generated/PowerState";
import type { ToolsStatus as ToolsStatusRs } from "./generated/ToolsStatus";
import type { OpKind as OpKindRs } from "./generated/OpKind";
import type { OpPhase as OpPhaseRs } from "./generated/OpPhase";
import type { Source as SourceRs } from "./generated/Source";
import type { Failure as FailureRs } from "./generated/Failure";
import type { Initiator as InitiatorRs } from "./generated/Initiator";
import type { Vm as VmRs } from "./generated/Vm";
import type { Operation as OperationRs } from "./generated/Operation";
import type { HistoryEntry as HistoryEntryRs } from "./generated/HistoryEntry";
import type { Hours as HoursRs } from "./generated/Hours";
import type { HoursRow as HoursRowRs } from "./generated/HoursRow";
import type { HoursReport as HoursReportRs } from "./generated/HoursReport";
import type { TimelineBucket as TimelineBucketRs } from "./generated/TimelineBucket";
import type { Finding as FindingRs } from "./generated/Finding";
import type { Capabilities as CapabilitiesRs } from "./generated/Capabilities";
import type { Health as HealthRs } from "./generated/Health";
import type { Vocabulary as VocabularyRs } from "./generated/Vocabulary";
import type { AccountOffers as AccountOffersRs } from "./generated/AccountOffers";
import type { IpcErrorWire as IpcErrorWireRs } from "./generated/IpcErrorWire";
import type { AccountInfo as AccountInfoRs } from "./generated/AccountInfo";
import type { InventoryColumns as InventoryColumnsRs } from "./generated/InventoryColumns";
import type { InventoryWire as InventoryWireRs } from "./generated/InventoryWire";
import type { GroupRule as GroupRuleRs } from "./generated/GroupRule";
import type { Group as GroupRs } from "./generated/Group";
import type { GroupNow as GroupNowRs } from "./generated/GroupNow";
import type { FailurePolicy as FailurePolicyRs } from "./generated/FailurePolicy";
import type { Step as StepRs } from "./generated/Step";
import type { Runbook as RunbookRs } from "./generated/Runbook";
import type { Will as WillRs } from "./generated/Will";
import type { PlannedVm as PlannedVmRs } from "./generated/PlannedVm";
import type { PlannedStep as PlannedStepRs } from "./generated/PlannedStep";
import type { RunPlan as RunPlanRs } from "./generated/RunPlan";
import type { RunPhase as RunPhaseRs } from "./generated/RunPhase";
import type { RunStep as RunStepRs } from "./generated/RunStep";
import type { Run as RunRs } from "./generated/Run";
import type { VmChange as VmChangeRs } from "./generated/VmChange";
import type { EngineEvent as EngineEventRs } from "./generated/EngineEvent";
import type { Schedule as ScheduleRs } from "./generated/Schedule";
import type { When as WhenRs } from "./generated/When";
import type { Target as TargetRs } from "./generated/Target";
import type { Occurrence as OccurrenceRs } from "./generated/Occurrence";
import type { Firing as FiringRs } from "./generated/Firing";
import type { Batch as BatchRs } from "./generated/Batch";
import type { BatchOutcome as BatchOutcomeRs } from "./generated/BatchOutcome";
import type { FiringView as FiringViewRs } from "./generated/FiringView";
import type { ScheduleView as ScheduleViewRs } from "./generated/ScheduleView";
import type { Schedules as SchedulesRs } from "./generated/Schedules";
import type { ScheduleDraft as ScheduleDraftRs } from "./generated/ScheduleDraft";
import type { RunNowPlan as RunNowPlanRs } from "./generated/RunNowPlan";
import type { ScheduleTargets as ScheduleTargetsRs } from "./generated/ScheduleTargets";
import type { FieldKind as FieldKindRs } from "./generated/FieldKind";
import type { Field as FieldRs } from "./generated/Field";
import type { KindDescriptor as KindDescriptorRs } from "./generated/KindDescriptor";
import type { VmDetails as VmDetailsRs } from "./generated/VmDetails";
import type { Requested as RequestedRs } from "./generated/Requested";
import type { Drift as DriftRs } from "./generated/Drift";
import type { Activity as ActivityRs } from "./generated/Activity";
import type { CertificateCheck as CertificateCheckRs } from "./generated/CertificateCheck";
import type { NotifyPrefs as NotifyPrefsRs } from "./generated/NotifyPrefs";
import type { OperationPrefs as OperationPrefsRs } from "./generated/OperationPrefs";
import type { Settings as SettingsRs } from "./generated/Settings";
import type { DesktopSettings as DesktopSettingsRs } from "./generated/DesktopSettings";

/** ts-rs writes Rust's i64 as `bigint`; over IPC they are JSON numbers
 * (ids and milliseconds, all far below 2^53). */
type Numbers<T> = T extends bigint ? number : T extends object ? { [K in keyof T]: Numbers<T[K]> } : T; // arrays and tuples keep their shape

export type PowerState = PowerStateRs;
export type ToolsStatus = ToolsStatusRs;
export type OpKind = OpKindRs;
export type OpPhase = OpPhaseRs;
export type Source = SourceRs;
export type Failure = FailureRs;
export type Initiator = InitiatorRs;
export type Vm = Numbers<VmRs>;
export type Operation = Numbers<OperationRs>;
export type HistoryEntry = Numbers<HistoryEntryRs>;
/** Milliseconds per state. */
export type Hours = Numbers<HoursRs>;
export type HoursRow = Numbers<HoursRowRs>;
export type HoursReport = Numbers<HoursReportRs>;
export type TimelineBucket = Numbers<TimelineBucketRs>;
export type Finding = Numbers<FindingRs>;

/** Runbooks, their plans and runs (crates/core/src/runbook.rs). */
export type FailurePolicy = FailurePolicyRs;
export type RunbookStep = Numbers<StepRs>;
export type Runbook = Numbers<RunbookRs>;
export type Will = WillRs;
export type PlannedVm = Numbers<PlannedVmRs>;
export type PlannedStep = Numbers<PlannedStepRs>;
export type RunPlan = Numbers<RunPlanRs>;
export type RunPhase = RunPhaseRs;
export type RunStep = Numbers<RunStepRs>;
export type Run = Numbers<RunRs>;
/** The engine's events (crates/core/src/events.rs), as the bridge forwards them. */
export type VmChange = Numbers<VmChangeRs>;
export type EngineEvent = Numbers<EngineEventRs>;
/** Schedules (crates/core/src/schedule.rs, engine/schedules.rs; the form's draft and views: src-tauri/src/schedules.rs). */
export type Schedule = Numbers<ScheduleRs>;
export type When = Numbers<WhenRs>;
export type Target = Numbers<TargetRs>;
export type Occurrence = Numbers<OccurrenceRs>;
export type Firing = Numbers<FiringRs>;
export type Batch = Numbers<BatchRs>;
export type BatchOutcome = Numbers<BatchOutcomeRs>;
export type FiringView = Numbers<FiringViewRs>;
export type ScheduleView = Numbers<ScheduleViewRs>;
export type Schedules = Numbers<SchedulesRs>;
export type ScheduleDraft = Numbers<ScheduleDraftRs>;
export type RunNowPlan = Numbers<RunNowPlanRs>;
export type ScheduleTargets = Numbers<ScheduleTargetsRs>;

export type Capabilities = Numbers<CapabilitiesRs>;
/** `vocabulary` (crates/core/src/vocabulary.rs). */
export type Vocabulary = VocabularyRs;
/** What an account's VMs offer, served with the account. */
export type AccountOffers = AccountOffersRs;
/** A command's failure (src-tauri/src/ipc_error.rs). */
export type IpcErrorWire = Numbers<IpcErrorWireRs>;
/** An account as the window lists it (src-tauri/src/commands.rs). */
export type AccountInfo = Numbers<AccountInfoRs>;
/** `list_vms`: VMs in columns (src-tauri/src/inventory.rs). */
export type InventoryColumns = Numbers<InventoryColumnsRs>;
export type InventoryWire = Numbers<InventoryWireRs>;
/** A provider kind and its account fields (crates/core/src/provider/kind.rs): the accounts form draws what it is given. */
export type KindDescriptor = Numbers<KindDescriptorRs>;
export type AccountField = Numbers<FieldRs>;
export type FieldKind = Numbers<FieldKindRs>;
/** Groups (crates/core/src/group.rs, engine/groups.rs). */
export type GroupRule = GroupRuleRs;
export type Group = Numbers<GroupRs>;
export type GroupNow = Numbers<GroupNowRs>;
/** The shell's other answers (src-tauri/src/commands.rs, prefs.rs, desktop.rs) and the core's certificate check. */
export type VmDetails = Numbers<VmDetailsRs>;
export type Requested = Numbers<RequestedRs>;
export type Drift = Numbers<DriftRs>;
export type Activity = Numbers<ActivityRs>;
export type CertificateCheck = Numbers<CertificateCheckRs>;
export type NotifyPrefs = Numbers<NotifyPrefsRs>;
export type OperationPrefs = Numbers<OperationPrefsRs>;
export type DesktopSettings = Numbers<DesktopSettingsRs>;

/** An account's health: its status is one of the vocabulary's `health` names. */
export type Health = Numbers<HealthRs>;

/** `list_vms` answers with the inventory and the changes sent while it was read. */
export interface InventoryAnswer {
  inventory: InventoryWire;
  missed: EngineEvent[];
}

/** The inventory once `ipc.js` has read it: its VMs stay in columns (`fleet.js`). */
export interface Inventory {
  vms: import("./fleet.js").Fleet;
  operations: Operation[];
  accounts: AccountInfo[];
}

/** What a schedule may do (an operation kind; Azure adds deallocate). */
export type ScheduleAction = OpKind | "deallocate";

/** The settings page's whole (src-tauri/src/commands.rs; the engine's: crates/core/src/engine/config.rs). */
export type Settings = Numbers<SettingsRs>;

/** Timings the benchmarks and the end-to-end test read. */
export interface Perf {
  firstPaintMs: number | null;
  lastApply: { events: number; changes: number; ms: number } | null;
  applies?: { events: number; changes: number; ms: number }[];
  /** How many times each IPC command was called. */
  calls: Record<string, number>;
  /** Set to [] by a benchmark: each frame's drawing time is pushed here. */
  frameWork?: number[];
  /** When the start-up steps happened (performance.now()). */
  marks: Record<string, number>;
}

declare global {
  interface Window {
    __TAURI__: {
      core: { invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> };
      event: { listen<T>(event: string, handler: (e: { payload: T }) => void): Promise<() => void> };
    };
    __powerdeckPerf: Perf;
  }
}

