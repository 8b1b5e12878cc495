//! Operations on many VMs at once: one batched read per account to plan,
//! submits spread under the accounts' rate limits with a concurrency limit,
//! and one batch that sums up the outcome once every operation has ended.
//! The app's bulk action, `pdk vm … A B C` and runbook steps all use it.

use super::ops::{check_supported, decide, OpOptions};
use super::{AccountRuntime, Engine};
use crate::error::CoreError;
use crate::events::Event;
use crate::model::{now_ms, Failure, Observation, OpKind, Operation, Vm};
use crate::runbook::{PlannedVm, Will};
use crate::store::NewOperation;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// VMs by account id.
type ByAccount = BTreeMap<i64, Vec<Vm>>;

/// Submits in flight at once per account.
const SUBMIT_CONCURRENCY: usize = 8;

/// What a bulk action will do, VM by VM, before anything is sent.
#[derive(Debug, Clone, Serialize)]
pub struct BulkPlan {
    pub kind: OpKind,
    pub vms: Vec<PlannedVm>,
    /// VMs asked for that Powerdeck does not know.
    pub unknown: Vec<i64>,
}

impl BulkPlan {
    pub fn count(&self, f: impl Fn(&Will) -> bool) -> usize {
        self.vms.iter().filter(|v| f(&v.will)).count()
    }
}

/// What a bulk request came to.
#[derive(Debug, Clone, Serialize)]
pub struct BulkResult {
    pub batch_id: Option<i64>,
    /// One per VM asked for: journalled (in flight or ended) or refused.
    pub operations: Vec<Operation>,
    /// VMs asked for that Powerdeck does not know.
    pub unknown: Vec<i64>,
}

impl Engine {
    /// The VMs asked for, deduplicated, each with its account's runtime.
    fn by_account(&self, vm_ids: &[i64]) -> Result<(ByAccount, Vec<i64>), CoreError> {
        let mut ids = vm_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let found = self.store.vms_by_ids(&ids)?;
        let unknown = ids.iter().filter(|id| !found.iter().any(|v| v.id == **id)).copied().collect();
        let mut by_account: BTreeMap<i64, Vec<Vm>> = BTreeMap::new();
        for vm in found {
            by_account.entry(vm.account_id).or_default().push(vm);
        }
        Ok((by_account, unknown))
    }

    /// Fresh readings of an account's VMs, by provider id (one batched read).
    async fn fresh(&self, rt: &AccountRuntime, vms: &[Vm]) -> Result<HashMap<String, Observation>, CoreError> {
        let ids: Vec<String> = vms.iter().map(|v| v.provider_id.clone()).collect();
        Ok(self.read_states(rt, &ids, crate::model::Source::Sync).await?.into_iter().map(|o| (o.provider_id.clone(), o)).collect())
    }

    /// What a bulk action would do to each VM, from fresh readings (one
    /// batched read per account); nothing is sent.
    pub async fn plan_many(&self, vm_ids: &[i64], kind: OpKind, opts: &OpOptions) -> Result<BulkPlan, CoreError> {
        let (by_account, unknown) = self.by_account(vm_ids)?;
        let mut out = Vec::new();
        for (account_id, vms) in by_account {
            let rt = self.runtime(account_id)?;
            let fresh = match self.fresh(&rt, &vms).await {
                Ok(f) => f,
                Err(e) => {
                    out.extend(vms.iter().map(|vm| planned(vm, vm.state, Will::Refuse { reason: e.to_string() })));
                    continue;
                }
            };
            for vm in &vms {
                out.push(plan_one(&rt, vm, fresh.get(&vm.provider_id), kind, opts));
            }
        }
        Ok(BulkPlan { kind, vms: out, unknown })
    }

    /// Ask for `kind` on many VMs: one batched read per account, then the
    /// submits (a few at a time per account, under its rate limit), all in
    /// one batch whose outcome is announced once. Every VM asked for ends up
    /// with a journalled operation, a refused one included.
    pub async fn request_many(self: &Arc<Self>, vm_ids: &[i64], kind: OpKind, opts: OpOptions, label: Option<String>) -> Result<BulkResult, CoreError> {
        let (by_account, unknown) = self.by_account(vm_ids)?;
        let count: usize = by_account.values().map(Vec::len).sum();
        let batch = match opts.batch {
            Some(b) => Some(b),
            None if count > 1 || label.is_some() => {
                let label = label.unwrap_or_else(|| format!("{} {count} VMs", capitalized(kind.as_str())));
                Some(self.store.create_batch(&label, kind, opts.initiator, None)?.id)
            }
            None => None,
        };
        let opts = OpOptions { batch, ..opts };
        let mut operations = Vec::with_capacity(count);
        for (account_id, vms) in by_account {
            let rt = self.runtime(account_id)?;
            operations.extend(self.submit_all(&rt, vms, kind, &opts).await?);
        }
        if let Some(b) = batch {
            self.store.seal_batch(b)?;
            self.settle_batch(b)?;
        }
        Ok(BulkResult { batch_id: batch, operations, unknown })
    }

    /// Plan and send one account's share, `SUBMIT_CONCURRENCY` at a time.
    pub(super) async fn submit_all(
        self: &Arc<Self>,
        rt: &Arc<AccountRuntime>,
        vms: Vec<Vm>,
        kind: OpKind,
        opts: &OpOptions,
    ) -> Result<Vec<Operation>, CoreError> {
        let fresh = match self.fresh(rt, &vms).await {
            Ok(f) => f,
            Err(e) => {
                // Not one of them could be read: each is refused, for the record.
                let why = e.to_string();
                return vms.iter().map(|vm| self.refuse(vm, kind, opts, Failure::Refused, &why)).collect();
            }
        };
        let semaphore = Arc::new(tokio::sync::Semaphore::new(SUBMIT_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for vm in vms {
            let (engine, rt, opts, permit) = (self.clone(), rt.clone(), opts.clone(), semaphore.clone());
            let obs = fresh.get(&vm.provider_id).cloned();
            tasks.spawn(async move {
                let _permit = permit.acquire_owned().await;
                engine.submit_one(&rt, &vm, obs, kind, &opts).await
            });
        }
        let mut out = Vec::new();
        while let Some(done) = tasks.join_next().await {
            out.push(done.map_err(|e| CoreError::Invalid(format!("a submit task failed: {e}")))??);
        }
        out.sort_by_key(|o| o.id);
        Ok(out)
    }

    /// One VM of a bulk request: checked, journalled and sent, or journalled as refused.
    async fn submit_one(&self, rt: &AccountRuntime, vm: &Vm, obs: Option<Observation>, kind: OpKind, opts: &OpOptions) -> Result<Operation, CoreError> {
        if let Err(e) = check_supported(rt, &vm.name, kind, opts) {
            return self.refuse(vm, kind, opts, Failure::Refused, &e.to_string());
        }
        let Some(obs) = obs else {
            return self.refuse(vm, kind, opts, Failure::Refused, &format!("{} was not found at the provider", vm.name));
        };
        match self.journal_and_send(rt, vm, &obs, kind, opts).await {
            Ok(op) => Ok(op),
            Err(e @ (CoreError::InFlight { .. } | CoreError::Invalid(_))) => self.refuse(vm, kind, opts, Failure::Refused, &e.to_string()),
            Err(e) => Err(e),
        }
    }

    fn refuse(&self, vm: &Vm, kind: OpKind, opts: &OpOptions, failure: Failure, message: &str) -> Result<Operation, CoreError> {
        let new = NewOperation {
            vm_id: vm.id,
            kind,
            allow_force: opts.allow_force,
            graceful_timeout_ms: 0,
            timeout_ms: 0,
            previous_state: Some(vm.state),
            wait_for_tools: opts.wait_for_tools,
            owner: self.owner.clone(),
            owner_pid: self.pid,
            initiator: opts.initiator,
            batch_id: opts.batch,
        };
        let op = self.store.journal_refusal(&new, failure, message, now_ms())?;
        self.bus.publish(Event::Operation { op: op.clone() });
        Ok(op)
    }

    /// If every operation of the batch has ended (and it is sealed), announce
    /// its outcome once: here, or in whichever process ended the last one.
    pub(super) fn settle_batch(&self, batch_id: i64) -> Result<(), CoreError> {
        if let Some(outcome) = self.store.settle_batch(batch_id)? {
            self.bus.publish(Event::BatchFinished { outcome });
        }
        Ok(())
    }
}

fn planned(vm: &Vm, state: crate::model::PowerState, will: Will) -> PlannedVm {
    PlannedVm { vm_id: vm.id, name: vm.name.clone(), account: vm.account.clone(), expected_state: state, will }
}

/// What one operation would do to a VM in the state `obs` shows.
pub(super) fn plan_one(rt: &AccountRuntime, vm: &Vm, obs: Option<&Observation>, kind: OpKind, opts: &OpOptions) -> PlannedVm {
    if let Err(e) = check_supported(rt, &vm.name, kind, opts) {
        return planned(vm, vm.state, Will::Refuse { reason: e.to_string() });
    }
    let Some(obs) = obs else {
        return planned(vm, vm.state, Will::Refuse { reason: "not found at the provider".into() });
    };
    let op = probe(vm, kind, opts);
    let will = match decide::plan(&op, obs, &rt.caps) {
        decide::Plan::AlreadyThere { .. } => Will::Skip { reason: format!("already {}", obs.state) },
        decide::Plan::WaitOnly | decide::Plan::Send { .. } => Will::Run,
        decide::Plan::Refuse { failure, message } => {
            let reason = if failure.force_would_help() { format!("{message} (needs force)") } else { message };
            Will::Refuse { reason }
        }
    };
    planned(vm, obs.state, will)
}

/// An operation as it would be journalled, to ask the plan about it.
fn probe(vm: &Vm, kind: OpKind, opts: &OpOptions) -> Operation {
    Operation {
        id: 0,
        vm_id: vm.id,
        vm_name: vm.name.clone(),
        account: vm.account.clone(),
        kind,
        phase: crate::model::OpPhase::Submitted,
        allow_force: opts.allow_force,
        graceful_timeout_ms: opts.graceful_timeout.map(|d| d.as_millis() as i64).unwrap_or(1),
        timeout_ms: 0,
        requested_at: 0,
        deadline_at: 0,
        submitted_at: None,
        forced_at: None,
        finished_at: None,
        previous_state: Some(vm.state),
        new_state: None,
        shutdown_method: None,
        job_id: None,
        error: None,
        wait_for_tools: opts.wait_for_tools,
        failure: None,
        cancel_requested: false,
        force_requested: false,
        initiator: opts.initiator,
        batch_id: None,
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}
