//! The EC2 provider against moto's server, with boto3 (AWS's own SDK) as the
//! independent witness of what the cloud holds.

use powerdeck_testkit::fast;
use powerdeck_testkit::moto;

use moto::{Moto, ThrottlingProxy};
use powerdeck_core::engine::report::{Rates, ReportBy};
use powerdeck_core::model::{Account, OpKind, OpPhase, PowerState, ShutdownMethod, Source};
use powerdeck_core::provider::ec2::{Ec2Config, Ec2Provider};
use powerdeck_core::provider::{PowerAction, ProviderError};
use powerdeck_core::secrets::Secret;
use powerdeck_core::store::{Store, VmFilter};
use powerdeck_core::{CoreError, Engine, EngineConfig, Event, OpOptions, Workers};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const PATIENCE: Duration = Duration::from_secs(30);

fn engine_config() -> EngineConfig {
    let mut cfg = fast::fast_engine_config();
    cfg.retry.max_attempts = 4;
    cfg
}

struct Lab {
    _dir: TempDir,
    engine: Arc<Engine>,
    account: Account,
}

impl Lab {
    /// An EC2 account on `endpoint`. The provider is built with the secret in
    /// hand, exactly as the registry builds it after reading the keychain.
    fn new(endpoint: &str, regions: &[&str], key: &str, secret: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
        let engine = Engine::with_store(store, dir.path(), engine_config()).unwrap();
        let cfg = Ec2Config {
            regions: regions.iter().map(|r| r.to_string()).collect(),
            endpoint: Some(endpoint.into()),
            access_key_id: Some(key.into()),
            ..Ec2Config::default()
        };
        // The account row: what `pdk accounts add ec2` stores (no secret in it).
        let stored = Ec2Config { access_key_id: None, profile: Some("lab".into()), ..cfg.clone() };
        let account = engine.add_account("aws", "ec2", serde_json::to_value(&stored).unwrap(), None).unwrap();
        engine.set_provider(account.id, Arc::new(Ec2Provider::new(&cfg, Some(Secret::new(secret)), engine.calls(account.id)).unwrap()));
        Self { _dir: dir, engine, account }
    }

    fn vms(&self) -> Vec<powerdeck_core::model::Vm> {
        self.engine.store().vms(&VmFilter { account_id: Some(self.account.id), state: None }).unwrap()
    }

    fn vm(&self, provider_id: &str) -> powerdeck_core::model::Vm {
        self.vms().into_iter().find(|v| v.provider_id == provider_id).unwrap_or_else(|| panic!("{provider_id} is not in the store"))
    }

    async fn run(&self, vm_id: i64, kind: OpKind) -> powerdeck_core::model::Operation {
        let op = self.engine.request(vm_id, kind, OpOptions::default()).await.unwrap();
        tokio::time::timeout(PATIENCE, self.engine.wait(op.id, |_| {})).await.expect("operation never ended").unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_of_2500_instances_in_two_regions_pages_and_matches_boto3() {
    let moto = Moto::start();
    moto.seed("us-east-1", 1300, 5);
    moto.seed("eu-west-1", 1200, 0);
    let lab = Lab::new(&moto.url, &["us-east-1", "eu-west-1"], "AKIDLAB", "testing");

    let summary = lab.engine.full_sync(lab.account.id).await.unwrap();
    // One DescribeInstances call per 1000 reservations, per region.
    assert_eq!(summary.list_calls, 2 + 2, "{summary:?}");

    let truth: Vec<serde_json::Value> = serde_json::from_value(moto.tool("describe", &["--region", "us-east-1", "--region", "eu-west-1"])).unwrap();
    assert_eq!(truth.len(), 2500);
    let stored: HashMap<String, powerdeck_core::model::Vm> = lab.vms().into_iter().map(|v| (v.provider_id.clone(), v)).collect();
    assert_eq!(stored.len(), 2500);
    for t in &truth {
        let vm = stored.get(t["id"].as_str().unwrap()).unwrap_or_else(|| panic!("{} missing from the store", t["id"]));
        assert_eq!(vm.name, t["name"].as_str().unwrap());
        assert_eq!(vm.raw_state, t["state"].as_str().unwrap());
        assert_eq!(
            (vm.facts.get("instance_type").map(String::as_str), vm.facts.get("private_ip").map(String::as_str)),
            (t["type"].as_str(), t["private_ip"].as_str()),
            "{t}"
        );
        // Tags other than Name are facts "tag:KEY", as boto3 reads them.
        let tags: BTreeMap<String, String> = vm.facts.iter().filter_map(|(k, v)| k.strip_prefix("tag:").map(|k| (k.to_string(), v.clone()))).collect();
        let want: BTreeMap<String, String> = serde_json::from_value(t["tags"].clone()).unwrap();
        assert_eq!(tags, want, "{t}");
    }
    let stopped = lab.vms().iter().filter(|v| v.state == PowerState::Stopped).count();
    assert_eq!(stopped, 1300 / 5, "every fifth us-east-1 instance was stopped by boto3");

    // The hours roll up by tag: each KEY=VALUE a row, as many VMs as boto3 tagged so.
    let now = powerdeck_core::model::now_ms();
    let by_tag = lab.engine.hours_report(now - 60_000, now, ReportBy::Tag, &chrono_tz::Tz::UTC, &Rates::default(), now).unwrap();
    let alpha = truth.iter().filter(|t| t["tags"]["team"] == "alpha").count();
    let rows: Vec<(&str, usize)> = by_tag.rows.iter().map(|r| (r.name.as_str(), r.vms)).collect();
    assert_eq!(rows, [("team=alpha", alpha), ("team=beta", 2500 - alpha)]);

    // Nothing changed at the provider: a second sync writes nothing.
    let before = lab.engine.store().rows_written();
    let again = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!((again.changed, lab.engine.store().rows_written() - before), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_start_and_reboot_are_tracked_verified_and_recorded_as_operations() {
    let moto = Moto::start();
    let ids = moto.seed("us-east-1", 3, 0);
    let lab = Lab::new(&moto.url, &["us-east-1"], "AKIDLAB", "testing");
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let vm = lab.vm(&format!("us-east-1:{}", ids[0]));
    assert_eq!(vm.state, PowerState::Running);

    let op = lab.engine.request(vm.id, OpKind::Stop, OpOptions::default()).await.unwrap();
    // StopInstances answered "stopping": the store says so before anything is verified.
    let shown = lab.engine.store().vm(vm.id).unwrap().unwrap();
    assert_eq!(shown.state, PowerState::Stopping, "{shown:?}");
    let stop = tokio::time::timeout(PATIENCE, lab.engine.wait(op.id, |_| {})).await.unwrap().unwrap();
    assert_eq!((stop.phase, stop.new_state, stop.shutdown_method), (OpPhase::Succeeded, Some(PowerState::Stopped), Some(ShutdownMethod::Graceful)), "{stop:?}");

    let start = lab.run(vm.id, OpKind::Start).await;
    assert_eq!((start.phase, start.new_state), (OpPhase::Succeeded, Some(PowerState::Running)), "{start:?}");
    let reboot = lab.run(vm.id, OpKind::Reboot).await;
    assert_eq!((reboot.phase, reboot.new_state), (OpPhase::Succeeded, Some(PowerState::Running)), "{reboot:?}");

    let truth: Vec<serde_json::Value> = serde_json::from_value(moto.tool("describe", &["--region", "us-east-1"])).unwrap();
    let witness = truth.iter().find(|t| t["id"] == format!("us-east-1:{}", ids[0])).unwrap();
    assert_eq!(witness["state"], "running");

    // Hibernation is a stop with Hibernate=true; it ends powered off.
    let other = lab.vm(&format!("us-east-1:{}", ids[1]));
    let hibernate = lab.run(other.id, OpKind::Hibernate).await;
    assert_eq!((hibernate.phase, hibernate.new_state), (OpPhase::Succeeded, Some(PowerState::Stopped)), "{hibernate:?}");

    let history = lab.engine.store().history(vm.id, 50).unwrap();
    let path: Vec<(PowerState, Source)> = history.iter().rev().map(|h| (h.to_state, h.source)).collect();
    assert_eq!(
        path,
        vec![
            (PowerState::Running, Source::Sync),
            (PowerState::Stopping, Source::Operation),
            (PowerState::Stopped, Source::Operation),
            (PowerState::Starting, Source::Operation),
            (PowerState::Running, Source::Operation),
            // EC2 shows nothing during a reboot; Powerdeck shows the request.
            (PowerState::Rebooting, Source::Operation),
            (PowerState::Running, Source::Operation),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_stop_is_caught_as_drift() {
    let moto = Moto::start();
    let ids = moto.seed("eu-west-1", 4, 0);
    let lab = Lab::new(&moto.url, &["eu-west-1"], "AKIDLAB", "testing");
    lab.engine.full_sync(lab.account.id).await.unwrap();
    let mut events = lab.engine.bus().subscribe();

    // Someone else stops the instance with the AWS SDK.
    moto.tool("stop", &["--region", "eu-west-1", &ids[2]]);
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(sync.changed, 1);

    let id = format!("eu-west-1:{}", ids[2]);
    let vm = lab.vm(&id);
    assert_eq!(vm.state, PowerState::Stopped);
    let last = &lab.engine.store().history(vm.id, 1).unwrap()[0];
    assert_eq!((last.from_state, last.to_state, last.source), (Some(PowerState::Running), PowerState::Stopped, Source::Sync));
    let drift = loop {
        match events.try_recv() {
            Ok(Event::VmsChanged { changes, .. }) => break changes.into_iter().find(|c| c.vm.provider_id == id).expect("change event for the VM"),
            Ok(_) => continue,
            Err(e) => panic!("no change event: {e:?}"),
        }
    };
    assert!(drift.drift, "{drift:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_instance_is_not_found_and_leaves_the_store_alone() {
    let moto = Moto::start();
    let ids = moto.seed("us-east-1", 2, 0);
    let lab = Lab::new(&moto.url, &["us-east-1"], "AKIDLAB", "testing");
    lab.engine.full_sync(lab.account.id).await.unwrap();

    let p = lab.engine.runtime(lab.account.id).unwrap().provider.clone();
    let ghost = "us-east-1:i-0123456789abcdef0";
    let err = p.submit(ghost, PowerAction::Start).await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("i-0123456789abcdef0"), "{err}");
    // A state refresh that mixes known and unknown ids answers for the known.
    let known = format!("us-east-1:{}", ids[1]);
    let seen = p.refresh(&[ghost.to_string(), known.clone()]).await.unwrap();
    assert_eq!(seen.iter().map(|o| o.provider_id.as_str()).collect::<Vec<_>>(), vec![known.as_str()]);
    assert_eq!(seen[0].state, PowerState::Running);
    // A state-only read never renames a VM.
    lab.engine.request(lab.vm(&known).id, OpKind::Stop, OpOptions::default()).await.unwrap();
    assert_eq!(lab.vm(&known).name, "vm-us-east-1-00001");

    let wrong_region = "ap-south-1:i-0123456789abcdef0";
    assert!(matches!(p.submit(wrong_region, PowerAction::Start).await.unwrap_err(), ProviderError::NotFound { .. }));
    let vms = lab.vms();
    assert_eq!(vms.len(), 2);
    assert!(vms.iter().all(|v| !v.provider_id.ends_with("i-0123456789abcdef0") && !v.stale));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_real_and_wrong_credentials_are_an_auth_error() {
    let moto = Moto::start();
    moto.seed("us-east-1", 3, 0);
    let good: serde_json::Value = moto.tool("iam-user", &["--user", "ops", "--allow-ec2"]);
    let readonly: serde_json::Value = moto.tool("iam-user", &["--user", "intern", "--enable-auth"]);
    let key = good["access_key_id"].as_str().unwrap();
    let secret = good["secret"].as_str().unwrap();

    // moto now checks every signature against IAM: ours must be right.
    let lab = Lab::new(&moto.url, &["us-east-1"], key, secret);
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(sync.vms, 3);

    let wrong = Lab::new(&moto.url, &["us-east-1"], key, "not-the-secret");
    let err = wrong.engine.full_sync(wrong.account.id).await.unwrap_err();
    let CoreError::Provider { source: ProviderError::Auth { message }, .. } = &err else { panic!("expected an auth error, got {err:?}") };
    assert!(!message.contains("not-the-secret") && !err.to_string().contains("not-the-secret"), "{err}");
    assert!(wrong.vms().is_empty(), "nothing is stored from a refused call");
    assert!(!wrong.engine.store().vms(&VmFilter::default()).unwrap().iter().any(|v| v.stale), "an auth failure is not an outage");

    let denied = Lab::new(&moto.url, &["us-east-1"], readonly["access_key_id"].as_str().unwrap(), readonly["secret"].as_str().unwrap());
    let err = denied.engine.full_sync(denied.account.id).await.unwrap_err();
    assert!(matches!(&err, CoreError::Provider { source: ProviderError::Auth { .. }, .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("not authorized") || err.to_string().contains("AccessDenied") || err.to_string().contains("Unauthorized"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_with_backoff_and_persistent_throttling_is_reported() {
    let moto = Moto::start();
    moto.seed("us-east-1", 5, 0);
    let proxy = ThrottlingProxy::start(&moto.url, 3);
    let lab = Lab::new(&proxy.url, &["us-east-1"], "AKIDLAB", "testing");
    let sync = lab.engine.full_sync(lab.account.id).await.unwrap();
    assert_eq!(sync.vms, 5);
    assert_eq!(proxy.stats(), (3, 1), "three throttled answers, then one call got through");
    let calls = lab.engine.runtime(lab.account.id).unwrap().stats().snapshot();
    assert_eq!(calls.throttled, 3, "{calls:?}");

    let always = ThrottlingProxy::start(&moto.url, -1);
    let stuck = Lab::new(&always.url, &["us-east-1"], "AKIDLAB", "testing");
    let err = stuck.engine.full_sync(stuck.account.id).await.unwrap_err();
    assert!(matches!(&err, CoreError::Provider { source: ProviderError::Throttled { .. }, .. }), "{err:?}");
    assert_eq!(always.stats().0, 4, "the retry policy allows four attempts");
    assert!(stuck.vms().is_empty());
}

/// The connection breaks after EC2 took the stop and before its answer came
/// back: the request is never sent again, and the instance's state confirms it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_whose_answer_is_lost_is_never_sent_twice_and_its_effect_confirms_it() {
    use powerdeck_testkit::proxy::CuttingProxy;
    let moto = Moto::start();
    let ids = moto.seed("us-east-1", 2, 0);
    let url = reqwest::Url::parse(&moto.url).unwrap();
    let upstream: std::net::SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()).parse().unwrap();
    let cut = CuttingProxy::start(upstream, "Action=StopInstances").await;
    let lab = Lab::new(&cut.url(""), &["us-east-1"], "AKIDLAB", "testing");
    lab.engine.full_sync(lab.account.id).await.unwrap();
    lab.engine.start(Workers::DRIVER, Some(&[lab.account.id])).unwrap();
    let vm = lab.vm(&format!("us-east-1:{}", ids[0]));
    assert_eq!(vm.state, PowerState::Running);

    let op = lab.run(vm.id, OpKind::Stop).await;
    assert_eq!(cut.forwarded(), 1, "EC2 got the stop once: {op:?}");
    assert_eq!((op.phase, op.new_state), (OpPhase::Succeeded, Some(PowerState::Stopped)), "{op:?}");
}
