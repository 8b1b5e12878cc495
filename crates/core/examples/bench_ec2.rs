//! Full EC2 inventory benchmark against an EC2 endpoint (moto in practice).
//!
//!     scripts/bench-ec2.sh            # starts moto, seeds 5000 instances, runs this
//!
//! or by hand, against an endpoint already seeded:
//!
//!     cargo run --release -p powerdeck-core --example bench_ec2 -- URL REGION [REGION…]
//!
//! Reports wall time, DescribeInstances calls and rows for a first full sync
//! and an unchanged second one.

use powerdeck_core::provider::ec2::{Ec2Config, Ec2Provider};
use powerdeck_core::secrets::Secret;
use powerdeck_core::store::Store;
use powerdeck_core::{Engine, EngineConfig};
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().expect("usage: bench_ec2 URL REGION [REGION…]");
    let regions: Vec<String> = args.collect();
    assert!(!regions.is_empty(), "name at least one region");
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("powerdeck.sqlite")).unwrap());
    let engine = Engine::with_store(store.clone(), dir.path(), EngineConfig::default()).unwrap();
    let cfg = Ec2Config { regions: regions.clone(), endpoint: Some(endpoint), access_key_id: Some("AKIDBENCH".into()), ..Ec2Config::default() };
    let stored = Ec2Config { access_key_id: None, profile: Some("bench".into()), ..cfg.clone() };
    let account = engine.add_account("bench", "ec2", serde_json::to_value(&stored).unwrap(), None).unwrap();
    engine.set_provider(account.id, Arc::new(Ec2Provider::new(&cfg, Some(Secret::new("testing")), engine.calls(account.id)).unwrap()));

    println!("| sync | instances | wall | DescribeInstances calls | rows written |");
    println!("|---|---:|---:|---:|---:|");
    for label in ["first", "unchanged"] {
        let before = store.rows_written();
        let t = Instant::now();
        let s = engine.full_sync(account.id).await.unwrap();
        println!("| {label} ({}) | {} | {} ms | {} | {} |", regions.join(" + "), s.vms, t.elapsed().as_millis(), s.list_calls, store.rows_written() - before);
    }
}
