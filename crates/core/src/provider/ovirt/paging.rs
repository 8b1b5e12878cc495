//! Listing every VM although the engine's pages are no snapshot.
//!
//! `search=sortby name asc page N` with `max=M` returns rows (N−1)·M+1 … N·M
//! of the VMs as they are *at that request*. A VM added in front shifts the
//! rest right (one is seen twice); a VM removed in front shifts them left,
//! and the row that crosses the page boundary is on neither page. So pages
//! here overlap: each re-reads the last rows of the previous one (the page
//! size is chosen so that a page boundary falls a few rows before where the
//! previous page ended). A page that holds a row of the previous page
//! proves nothing slipped between the two; one that holds none means rows
//! moved left past the overlap, and the walk starts over from the top,
//! keeping what it saw. VMs seen twice are dropped. A page shorter than
//! asked ends the pass: every row after the last one seen was on it.
//! Because each request reaches back into what was already read, no page
//! past the end is ever asked for.

use crate::provider::ProviderError;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Rows each page re-reads of the previous one, where a page size allows:
/// up to `OVERLAP − 1` VMs removed in front between two requests are
/// absorbed without a restart.
pub const OVERLAP: u64 = 3;
/// Walks from the top one pass may make before it gives up (the VM list is
/// changing faster than it can be read).
pub const MAX_WALKS: u32 = 4;
/// Far beyond any engine (100 000 VMs in pages of 10).
const MAX_PAGES: u32 = 20_000;
/// Passes followed at once (one per sync in progress; older ones are dropped).
const PASSES_KEPT: usize = 8;

/// One request: `search=… page {page}` with `max={max}`; its first row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub max: u64,
    pub first: u64,
}

impl PageRequest {
    fn with(max: u64, row: u64) -> Self {
        let page = (row - 1) / max + 1;
        Self { page, max, first: (page - 1) * max + 1 }
    }
    fn last(&self) -> u64 {
        self.first + self.max - 1
    }
}

/// The next request after a page that ended at row `read_to` (0: none
/// read yet), with a page size near `size`: it holds row `read_to` and the
/// one after it, re-reads at least [`OVERLAP`] rows where it can, and as few
/// more as it can.
pub fn request_after(read_to: u64, size: u64) -> PageRequest {
    let size = size.max(OVERLAP + 2);
    if read_to == 0 {
        return PageRequest { page: 1, max: size, first: 1 };
    }
    // Holds `read_to` and `read_to + 1`: the page boundary is not between them.
    let fits = |max: u64| read_to % max != 0;
    let overlap = |r: &PageRequest| read_to - r.first + 1;
    let preferred = ((size / 2).max(OVERLAP + 2)..=size).rev().filter(|m| fits(*m)).map(|m| PageRequest::with(m, read_to));
    let full = preferred.clone().filter(|r| overlap(r) >= OVERLAP).min_by_key(|r| (overlap(r), std::cmp::Reverse(r.last())));
    if let Some(r) = full.or_else(|| preferred.max_by_key(|r| (overlap(r), r.last()))) {
        return r;
    }
    // Every preferred size divides `read_to` (2520 with pages of 10): a
    // smaller one, else a slightly larger one, will not.
    let fallback = (OVERLAP + 2..size / 2).rev().chain(size + 1..).find(|m| fits(*m)).expect("some page size does not divide the row");
    PageRequest::with(fallback, read_to)
}

/// One pass over the inventory: what it has seen, where it is.
#[derive(Debug, Default)]
pub struct Pass {
    seen: HashSet<String>,
    /// The previous page's rows (empty at the top of a walk).
    tail: HashSet<String>,
    /// Walks from the top so far (the first counts).
    walks: u32,
    pages: u32,
}

/// What a page means for the pass.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Keep these (new) rows; `next`: the last row read, for the next
    /// request; `None` at the end.
    Page { keep: Vec<usize>, next: Option<u64> },
    /// Rows moved past the overlap: keep these new rows, and walk again
    /// from the top.
    Restart { keep: Vec<usize> },
}

#[derive(Debug, PartialEq, Eq)]
pub enum PageError {
    /// The token names a pass that is no longer followed.
    Interrupted,
    /// The same VM twice on one page: a single query never does that.
    Duplicate(String),
    /// More rows than `max`: the engine ignored the page size.
    TooMany { asked: u64, got: usize },
    /// Still moving after [`MAX_WALKS`] walks.
    Unsettled,
    /// More pages than any inventory has.
    Endless,
}

impl Pass {
    pub fn new() -> Self {
        Self { walks: 1, ..Self::default() }
    }

    /// Which walk this is (1 for the first); tokens carry it, so none repeats.
    pub fn walk(&self) -> u32 {
        self.walks
    }

    /// Take a page (the ids in the engine's order) asked for by `req`.
    pub fn take(&mut self, req: PageRequest, ids: &[&str]) -> Result<Step, PageError> {
        self.pages += 1;
        if self.pages > MAX_PAGES {
            return Err(PageError::Endless);
        }
        if ids.len() as u64 > req.max {
            return Err(PageError::TooMany { asked: req.max, got: ids.len() });
        }
        let mut on_page = HashSet::with_capacity(ids.len());
        for id in ids {
            if !on_page.insert(*id) {
                return Err(PageError::Duplicate(id.to_string()));
            }
        }
        let joined = self.tail.is_empty() || self.tail.iter().any(|t| on_page.contains(t.as_str()));
        let mut keep = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if self.seen.insert(id.to_string()) {
                keep.push(i);
            }
        }
        if !joined {
            self.walks += 1;
            if self.walks > MAX_WALKS {
                return Err(PageError::Unsettled);
            }
            self.tail.clear();
            return Ok(Step::Restart { keep });
        }
        if (ids.len() as u64) < req.max {
            return Ok(Step::Page { keep, next: None });
        }
        self.tail = on_page.into_iter().map(str::to_string).collect();
        Ok(Step::Page { keep, next: Some(req.first + ids.len() as u64 - 1) })
    }
}

/// The passes in progress, by number, and what their page tokens say.
#[derive(Default)]
pub struct Passes {
    inner: Mutex<(u64, HashMap<u64, Pass>)>,
}

/// Where a pass is: its number, its walk, the last row read (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub pass: u64,
    pub walk: u32,
    pub read_to: u64,
}

impl Place {
    pub fn token(&self) -> String {
        format!("{}:{}:{}", self.pass, self.walk, self.read_to)
    }

    pub fn parse(token: &str) -> Option<Self> {
        let mut parts = token.split(':');
        let place = Self { pass: parts.next()?.parse().ok()?, walk: parts.next()?.parse().ok()?, read_to: parts.next()?.parse().ok()? };
        parts.next().is_none().then_some(place)
    }
}

impl Passes {
    /// A new pass, at the top.
    pub fn begin(&self) -> Place {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0 += 1;
        let pass = inner.0;
        if inner.1.len() >= PASSES_KEPT {
            let oldest = inner.1.keys().min().copied();
            oldest.map(|o| inner.1.remove(&o));
        }
        inner.1.insert(pass, Pass::new());
        Place { pass, walk: 1, read_to: 0 }
    }

    /// Take the page asked for at `place`; where the pass goes next
    /// (`None`: it is complete). A pass that ends or fails is forgotten.
    pub fn take(&self, place: Place, req: PageRequest, ids: &[&str]) -> Result<(Vec<usize>, Option<Place>), PageError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let pass = inner.1.get_mut(&place.pass).filter(|p| p.walk() == place.walk).ok_or(PageError::Interrupted)?;
        let step = pass.take(req, ids);
        let walk = pass.walk();
        let next = match step {
            Ok(Step::Page { keep, next: Some(read_to) }) => return Ok((keep, Some(Place { read_to, ..place }))),
            Ok(Step::Restart { keep }) => return Ok((keep, Some(Place { walk, read_to: 0, ..place }))),
            Ok(Step::Page { keep, next: None }) => Ok((keep, None)),
            Err(e) => Err(e),
        };
        inner.1.remove(&place.pass);
        next
    }
}

impl From<PageError> for ProviderError {
    fn from(e: PageError) -> Self {
        match e {
            PageError::Interrupted => ProviderError::Provider {
                code: "ListingInterrupted".into(),
                message: "this inventory listing is no longer being followed; the next sync starts a new one".into(),
                retryable: true,
            },
            PageError::Duplicate(id) => ProviderError::malformed(format!("VM {id} is listed twice on one page")),
            PageError::TooMany { asked, got } => ProviderError::malformed(format!("asked for {asked} VMs, the engine sent {got}")),
            PageError::Endless => ProviderError::malformed("the VM list never ends"),
            PageError::Unsettled => ProviderError::Provider {
                code: "InventoryUnsettled".into(),
                message: format!("VMs kept disappearing while the inventory was read ({MAX_WALKS} walks); the next sync tries again"),
                retryable: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_reaches_back_into_the_previous_page() {
        assert_eq!(request_after(0, 500), PageRequest { page: 1, max: 500, first: 1 });
        assert_eq!(request_after(500, 500), PageRequest { page: 2, max: 497, first: 498 });
        for read_to in 1..6000 {
            for size in [10, 11, 100, 500] {
                let r = request_after(read_to, size);
                assert!(r.first <= read_to && r.last() > read_to, "{read_to}/{size}: {r:?}");
                assert!(r.max >= OVERLAP + 2 && r.max <= size + 40, "{read_to}/{size}: {r:?}");
                if size >= 100 && read_to >= OVERLAP {
                    // With pages of a useful size there is always one that re-reads the full overlap.
                    assert!(read_to + 1 - r.first >= OVERLAP, "{read_to}/{size}: {r:?}");
                }
            }
        }
        // 2520 is divisible by every size from 5 to 10.
        let r = request_after(2520, 10);
        assert!(r.first <= 2520 && r.last() > 2520, "{r:?}");
    }

    /// The engine: rows of `vms` (kept sorted) cut as it cuts them.
    fn cut(vms: &[String], r: PageRequest) -> Vec<&str> {
        vms.iter().skip((r.first - 1) as usize).take(r.max as usize).map(String::as_str).collect()
    }

    /// List `vms` with pages of `size`, letting `between` change the VMs
    /// before each request after the first; what the pass kept.
    fn list(mut vms: Vec<String>, size: u64, mut between: impl FnMut(u32, &mut Vec<String>)) -> Result<Vec<String>, PageError> {
        let mut pass = Pass::new();
        let (mut start, mut kept, mut n) = (0, Vec::new(), 0);
        loop {
            if n > 0 {
                between(n, &mut vms);
                vms.sort();
            }
            n += 1;
            let req = request_after(start, size);
            let page = cut(&vms, req);
            match pass.take(req, &page)? {
                Step::Page { keep, next } => {
                    kept.extend(keep.iter().map(|i| page[*i].to_string()));
                    match next {
                        Some(s) => start = s,
                        None => return Ok(kept),
                    }
                }
                Step::Restart { keep } => {
                    kept.extend(keep.iter().map(|i| page[*i].to_string()));
                    start = 0;
                }
            }
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("vm-{i:04}")).collect()
    }

    #[test]
    fn a_quiet_inventory_is_listed_once_each_with_no_page_past_the_end() {
        for n in [0, 1, 9, 10, 11, 19, 20, 21, 2000] {
            let got = list(names(n), 10, |_, _| {}).unwrap_or_else(|e| panic!("{n}: {e:?}"));
            assert_eq!(got, names(n), "{n}");
        }
    }

    #[test]
    fn vms_removed_in_front_are_never_lost_and_added_ones_never_doubled() {
        // Removing VMs from the first page between requests shifts the rest left.
        for removed in 1..=6 {
            let all = names(40);
            let got = list(all.clone(), 10, |n, vms| {
                if n == 1 {
                    vms.drain(0..removed);
                }
            })
            .unwrap();
            let survivors: HashSet<&String> = all[removed..].iter().collect();
            let got_set: HashSet<&String> = got.iter().collect();
            assert!(survivors.is_subset(&got_set), "removing {removed} lost {:?}", survivors.difference(&got_set).collect::<Vec<_>>());
            assert_eq!(got_set.len(), got.len(), "no VM twice");
        }
        // Adding VMs in front shifts the rest right: each is kept once.
        let got = list(names(40), 10, |n, vms| {
            if n <= 3 {
                vms.push(format!("vm-000{n}a"));
            }
        })
        .unwrap();
        let set: HashSet<&String> = got.iter().collect();
        assert_eq!(set.len(), got.len());
        assert!(names(40).iter().all(|v| set.contains(v)));
    }

    #[test]
    fn naive_pages_do_lose_a_vm_when_one_in_front_is_removed() {
        // The engine's behaviour the overlap exists for (README of the fake).
        let mut vms = names(20);
        let first: Vec<String> = vms[0..10].to_vec();
        vms.remove(0);
        let second: Vec<String> = vms[10..20.min(vms.len())].to_vec();
        let seen: HashSet<&String> = first.iter().chain(second.iter()).collect();
        assert!(!seen.contains(&"vm-0010".to_string()), "vm-0010 slipped between the pages");
    }

    #[test]
    fn tokens_say_where_a_pass_is_and_nothing_else() {
        let passes = Passes::default();
        let top = passes.begin();
        assert_eq!(Place::parse(&top.token()), Some(top));
        assert_eq!(Place::parse("1:1"), None);
        assert_eq!(Place::parse("1:1:2:3"), None);
        assert_eq!(Place::parse("a:b:c"), None);
        let ids: Vec<String> = names(3);
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(passes.take(top, request_after(0, 10), &refs), Ok((vec![0, 1, 2], None)));
        assert_eq!(passes.take(top, request_after(0, 10), &refs), Err(PageError::Interrupted), "a finished pass is forgotten");
    }

    #[test]
    fn hostile_pages_end_in_an_error() {
        let mut pass = Pass::new();
        let req = request_after(0, 10);
        assert_eq!(pass.take(req, &["a", "b", "a"]), Err(PageError::Duplicate("a".into())));
        let mut pass = Pass::new();
        let eleven: Vec<String> = names(11);
        let refs: Vec<&str> = eleven.iter().map(String::as_str).collect();
        assert_eq!(pass.take(req, &refs), Err(PageError::TooMany { asked: 10, got: 11 }));
        // A list that never holds still.
        let err = list(names(100), 10, |n, vms| {
            vms.drain(0..4);
            vms.extend((0..4).map(|i| format!("zz-{n:04}-{i}")));
        });
        assert_eq!(err, Err(PageError::Unsettled));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::fuzz::config())]

        #[test]
        fn any_page_token_is_read_or_refused(token in "\\PC{0,30}|[0-9]{1,22}(:[0-9]{1,22}){0,4}") {
            super::super::vm::check(&token);
        }

        #[test]
        fn a_place_comes_back_from_its_token(pass in any::<u64>(), walk in any::<u32>(), read_to in any::<u64>()) {
            let place = Place { pass, walk, read_to };
            prop_assert_eq!(Place::parse(&place.token()), Some(place));
        }
    }
}
