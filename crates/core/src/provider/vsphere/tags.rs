//! vSphere tags (a category, and a tag in it) for the inventory. The vim25
//! SOAP API that reads everything else has no tags; they live in the
//! vSphere Automation REST API (`/rest/com/vmware/cis`, vCenter 6.5 to 8).
//!
//! Read once per full inventory: the tags, which VMs carry each (one call
//! for all of them), then the names of the tags in use and their
//! categories. A VM's tags become facts `tag:CATEGORY` = TAG (several tags
//! of one category: their names, sorted, joined with ", "), kept per VM and
//! put on every observation the provider hands over: the store replaces a
//! VM's facts whole, so a refresh without them would drop them.
//!
//! Tags are a nicety: a server without the service (a standalone ESXi
//! host) or a user without the right has none, and an error keeps the last
//! ones read; it never fails the inventory. Until this process has read
//! them once (a `pdk vm …` refreshes one VM first), observations carry no
//! facts at all, so the store keeps the VM's facts as they were rather
//! than losing its tags.

use crate::model::{Facts, Observation};
use crate::provider::calls::{Call, Calls};
use crate::provider::client::token::TokenCache;
use crate::provider::http::{HttpFailure, HttpTransport};
use crate::provider::{ProviderError, ProviderResult};
use crate::secrets::Secret;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After the server said it has no tagging service, ask again this late.
const ABSENT_FOR: Duration = Duration::from_secs(3600);
/// Tag ids per association call (vCenter takes a few hundred at once).
const IDS_PER_CALL: usize = 500;
/// Names of tags in use read per inventory (each is a call); names are
/// kept, so the rest are read at the next inventories.
const MAX_NAMED: usize = 2000;
/// Tag and category names are read again this often (a renamed tag).
const NAMES_FOR: Duration = Duration::from_secs(3600);

pub struct Tagging {
    http: HttpTransport,
    calls: Arc<Calls>,
    /// `https://host:port/rest/com/vmware/cis/`, from the SOAP endpoint.
    base: Option<reqwest::Url>,
    username: String,
    password: Secret,
    session: TokenCache<Secret>,
    /// Each VM's tag facts; None until read once.
    by_vm: Mutex<Option<HashMap<String, Facts>>>,
    absent_until: Mutex<Option<Instant>>,
    /// Tag id → (category name, tag name), and category id → name.
    names: Mutex<Names>,
}

#[derive(Default)]
struct Names {
    tags: HashMap<String, (String, String)>,
    categories: HashMap<String, String>,
    read_at: Option<Instant>,
}

/// The REST API wraps every answer as `{"value": …}`.
#[derive(Deserialize)]
struct Wrapped<T> {
    value: T,
}

#[derive(Deserialize)]
struct Attached {
    tag_id: String,
    #[serde(default)]
    object_ids: Option<Vec<ObjectId>>,
}

#[derive(Deserialize)]
struct ObjectId {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Deserialize)]
struct TagInfo {
    name: String,
    category_id: String,
}

#[derive(Deserialize)]
struct CategoryInfo {
    name: String,
}

impl Tagging {
    pub fn new(http: HttpTransport, calls: Arc<Calls>, endpoint: &str, username: &str, password: Secret) -> Self {
        let base = reqwest::Url::parse(endpoint).ok().map(|mut u| {
            u.set_path("/rest/com/vmware/cis/");
            u.set_query(None);
            u
        });
        Self {
            http,
            calls,
            base,
            username: username.to_string(),
            password,
            session: TokenCache::new(Duration::ZERO),
            by_vm: Default::default(),
            absent_until: Default::default(),
            names: Default::default(),
        }
    }

    /// Read every VM's tags again (at the start of a full inventory).
    pub async fn reload(&self) {
        if self.absent_until.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| Instant::now() < t) {
            return;
        }
        match self.read_all().await {
            Ok(by_vm) => *self.by_vm.lock().unwrap_or_else(|p| p.into_inner()) = Some(by_vm),
            // The session or the tag list itself is not there: no tagging service.
            Err(ProviderError::NotFound { .. }) => {
                tracing::debug!("this vSphere server has no tagging service (a standalone host?); VMs are listed without tags");
                *self.absent_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + ABSENT_FOR);
                *self.by_vm.lock().unwrap_or_else(|p| p.into_inner()) = Some(HashMap::new());
            }
            Err(e) => tracing::debug!(error = %e, "vSphere tags could not be read; the last ones read are kept"),
        }
    }

    /// Before observations go out: read the tags if this process never has.
    pub async fn ensure_loaded(&self) {
        if self.by_vm.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
            self.reload().await;
        }
    }

    /// Put each VM's tags on its observation (replacing any it carries).
    /// With no tags ever read, the observations go without facts: the store
    /// then keeps the facts it has (tags included) instead of replacing them.
    pub fn apply(&self, obs: &mut [Observation]) {
        let by_vm = self.by_vm.lock().unwrap_or_else(|p| p.into_inner());
        let Some(by_vm) = by_vm.as_ref() else {
            obs.iter_mut().for_each(|o| o.facts.clear());
            return;
        };
        for o in obs.iter_mut() {
            o.facts.retain(|k, _| !k.starts_with("tag:"));
            if let Some(tags) = by_vm.get(&o.provider_id) {
                o.facts.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }

    async fn read_all(&self) -> ProviderResult<HashMap<String, Facts>> {
        // vcsim answers `{"value": null}` where there is nothing.
        let tag_ids: Vec<String> = self.get::<Option<Vec<String>>>("tagging/tag", &[]).await?.unwrap_or_default();
        let mut carried: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for ids in tag_ids.chunks(IDS_PER_CALL) {
            let attached: Vec<Attached> = self.post("tagging/tag-association", "list-attached-objects-on-tags", &serde_json::json!({ "tag_ids": ids })).await?;
            for a in attached {
                let vms = a.object_ids.unwrap_or_default().into_iter().filter(|o| o.kind == "VirtualMachine").map(|o| o.id);
                carried.entry(a.tag_id).or_default().extend(vms);
            }
        }
        carried.retain(|_, vms| !vms.is_empty());
        let names = self.names_of(carried.keys()).await?;
        let mut by_vm: HashMap<String, BTreeMap<String, Vec<String>>> = HashMap::new();
        for (tag_id, vms) in carried {
            let Some((category, name)) = names.get(&tag_id) else { continue };
            for vm in vms {
                by_vm.entry(vm).or_default().entry(format!("tag:{category}")).or_default().push(name.clone());
            }
        }
        Ok(by_vm
            .into_iter()
            .map(|(vm, tags)| {
                let facts = tags
                    .into_iter()
                    .map(|(key, mut names)| {
                        names.sort();
                        names.dedup();
                        (key, names.join(", "))
                    })
                    .collect();
                (vm, facts)
            })
            .collect())
    }

    /// The (category, name) of each tag id, from what is known and, for the
    /// rest (at most MAX_NAMED per call), one GET per tag and per category.
    /// A tag or category deleted meanwhile (404) is left out.
    async fn names_of<'a>(&self, ids: impl Iterator<Item = &'a String>) -> ProviderResult<HashMap<String, (String, String)>> {
        let (mut known, mut categories) = {
            let mut n = self.names.lock().unwrap_or_else(|p| p.into_inner());
            if n.read_at.is_none_or(|t| t.elapsed() >= NAMES_FOR) {
                *n = Names { read_at: Some(Instant::now()), ..Names::default() };
            }
            (n.tags.clone(), n.categories.clone())
        };
        let wanted: Vec<&String> = ids.collect();
        let missing: Vec<&String> = wanted.iter().copied().filter(|id| !known.contains_key(id.as_str())).take(MAX_NAMED).collect();
        for tag_id in missing {
            let tag: TagInfo = match self.get("tagging/tag", &[&format!("id:{tag_id}")]).await {
                Ok(t) => t,
                Err(ProviderError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let category = match categories.get(&tag.category_id) {
                Some(name) => name.clone(),
                None => match self.get::<CategoryInfo>("tagging/category", &[&format!("id:{}", tag.category_id)]).await {
                    Ok(c) => {
                        categories.insert(tag.category_id.clone(), c.name.clone());
                        c.name
                    }
                    Err(ProviderError::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                },
            };
            let (category, name) = (crate::text::clean(&category), crate::text::clean(&tag.name));
            if !category.is_empty() && !name.is_empty() {
                known.insert(tag_id.to_string(), (category, name));
            }
        }
        let mut n = self.names.lock().unwrap_or_else(|p| p.into_inner());
        n.tags.clone_from(&known);
        n.categories = categories;
        Ok(wanted.into_iter().filter_map(|id| known.get(id).map(|v| (id.clone(), v.clone()))).collect())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, ids: &[&str]) -> ProviderResult<T> {
        self.request(reqwest::Method::GET, path, ids, None, None).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, action: &str, body: &serde_json::Value) -> ProviderResult<T> {
        self.request(reqwest::Method::POST, path, &[], Some(action), Some(body)).await
    }

    /// One call with the session, logging in first (and once more when the
    /// server has forgotten the session).
    async fn request<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        ids: &[&str],
        action: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> ProviderResult<T> {
        let mut url = self.url(path)?;
        if let Ok(mut segments) = url.path_segments_mut() {
            // Ids come from the server: as path segments they are encoded,
            // never read as more path or a query.
            segments.extend(ids);
        }
        if let Some(a) = action {
            url.query_pairs_mut().append_pair("~action", a);
        }
        // The shared token cache: one login however many callers, and a
        // refused session (401) renewed once with the call repeated.
        let resp = self
            .session
            .with_token(
                || self.login(),
                |e| matches!(e, ProviderError::Auth { .. }),
                |held| {
                    let url = url.clone();
                    let method = method.clone();
                    async move {
                        let send = || {
                            let mut req = self.http.client().request(method.clone(), url.clone()).header("vmware-api-session-id", held.token.expose());
                            if let Some(b) = body {
                                req = req.json(b);
                            }
                            self.http.send(req, failure)
                        };
                        self.calls.run(Call::other(), send).await
                    }
                },
            )
            .await?;
        answer(&resp.body, &resp, path)
    }

    /// A new session token (it lives until the server forgets it).
    async fn login(&self) -> ProviderResult<(Secret, Option<Duration>)> {
        let url = self.url("session")?;
        let login = || {
            let req = self
                .http
                .client()
                .post(url.clone())
                .basic_auth(&self.username, Some(self.password.expose()))
                // The token in the answer, no cookie.
                .header("vmware-use-header-authn", "true");
            self.http.send(req, failure)
        };
        let resp = self.calls.run(Call::other(), login).await?;
        let token: String = answer(&resp.body, &resp, "session")?;
        Ok((Secret::new(token), None))
    }

    fn url(&self, path: &str) -> ProviderResult<reqwest::Url> {
        let base = self.base.as_ref().ok_or_else(|| ProviderError::Config { message: "the endpoint is not a URL".into() })?;
        base.join(path).map_err(|e| ProviderError::Config { message: format!("no tagging address from the endpoint: {e}") })
    }
}

/// A failure by its status alone (401: the session, 403: the right, 404:
/// no such service or object): a body may echo what was sent, and the
/// login sent the password.
fn failure(f: &HttpFailure) -> Option<ProviderError> {
    Some(match f.generic_error() {
        ProviderError::Provider { code, retryable, .. } => ProviderError::Provider { code, message: "the tagging service failed".into(), retryable },
        ProviderError::InvalidState { .. } => {
            ProviderError::Provider { code: "HTTP 409".into(), message: "the tagging service refused".into(), retryable: false }
        }
        other => other,
    })
}

/// `{"value": …}` as `T`. vCenter says JSON; vcsim says text/plain; a web
/// page is neither.
fn answer<T: DeserializeOwned>(body: &str, resp: &crate::provider::http::HttpResponse, what: &str) -> ProviderResult<T> {
    resp.expect_content_type(&["json", "text/plain"], "a tagging answer")?;
    // Where it broke, not what it read: the text may echo what was sent.
    serde_json::from_str::<Wrapped<T>>(body)
        .map(|w| w.value)
        .map_err(|e| ProviderError::malformed(format!("unreadable tagging answer ({what}) at line {} column {}", e.line(), e.column())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_inside_their_wrapper_and_others_refused() {
        let resp = |ct: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::CONTENT_TYPE, ct.parse().unwrap());
            crate::provider::http::HttpResponse { status: 200, headers, body: String::new() }
        };
        let ids: Vec<String> = answer(r#"{"value":["urn:a","urn:b"]}"#, &resp("application/json"), "t").unwrap();
        assert_eq!(ids, ["urn:a", "urn:b"]);
        let none: Vec<Attached> = answer(r#"{"value":[{"tag_id":"urn:a","object_ids":null}]}"#, &resp("text/plain"), "t").unwrap();
        assert!(none[0].object_ids.is_none());
        assert!(answer::<Vec<String>>("<html>login</html>", &resp("text/html"), "t").is_err());
        assert!(answer::<Vec<String>>(r#"["urn:a"]"#, &resp("application/json"), "t").is_err(), "an unwrapped answer is not this API's");
        let echoed = answer::<Vec<String>>(r#"{"value":"s3cret-pass"}"#, &resp("application/json"), "t").unwrap_err().to_string();
        assert!(!echoed.contains("s3cret"), "{echoed}");
        let failed = failure(&HttpFailure { status: 500, retry_after: None, body: "bad password s3cret-pass".into() }).unwrap().to_string();
        assert!(!failed.contains("s3cret"), "{failed}");
    }

    #[test]
    fn the_rest_address_is_the_endpoints_host_and_ids_stay_path_segments() {
        let t = Tagging::new(HttpTransport::new(&Default::default()).unwrap(), Calls::direct(), "https://vc.example:8443/sdk?x=1", "u", Secret::new("p"));
        assert_eq!(t.url("session").unwrap().as_str(), "https://vc.example:8443/rest/com/vmware/cis/session");
        let mut u = t.url("tagging/tag").unwrap();
        u.path_segments_mut().unwrap().extend(["id:urn:x/../../evil?q"]);
        assert_eq!(u.as_str(), "https://vc.example:8443/rest/com/vmware/cis/tagging/tag/id:urn:x%2F..%2F..%2Fevil%3Fq");
    }

    fn observation_of(facts: &[(&str, &str)]) -> Observation {
        Observation {
            provider_id: String::new(),
            name: String::new(),
            state: crate::model::PowerState::Running,
            raw_state: "poweredOn".into(),
            tools: None,
            location: None,
            facts: facts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn tags_replace_what_an_observation_carried() {
        let t = Tagging::new(HttpTransport::new(&Default::default()).unwrap(), Calls::direct(), "https://vc/sdk", "u", Secret::new("p"));
        let mut none = vec![Observation { provider_id: "vm-1".into(), ..observation_of(&[("instance_uuid", "u1"), ("tag:env", "prod")]) }];
        t.apply(&mut none);
        assert!(none[0].facts.is_empty(), "tags never read: no facts, so the store keeps what it has");
        *t.by_vm.lock().unwrap() = Some([("vm-1".to_string(), [("tag:env".to_string(), "prod".to_string())].into_iter().collect())].into_iter().collect());
        let o = |id: &str, facts: &[(&str, &str)]| Observation { provider_id: id.into(), name: id.into(), ..observation_of(facts) };
        let mut obs = vec![o("vm-1", &[("instance_uuid", "u1")]), o("vm-2", &[("tag:old", "x"), ("instance_uuid", "u2")])];
        t.apply(&mut obs);
        assert_eq!(obs[0].facts.get("tag:env").map(String::as_str), Some("prod"));
        assert_eq!(obs[0].facts.get("instance_uuid").map(String::as_str), Some("u1"));
        assert!(!obs[1].facts.contains_key("tag:old"), "a tag no longer attached goes");
    }
}
