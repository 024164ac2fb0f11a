//! The cascade tree: each impaired component's call-graph distance from the nearest faulted
//! one. Upstream first (towards its callers: a component that calls, directly or not, a
//! faulted one); a component that no faulted one is below is *lateral* (a fallback cell or
//! another cell taking redirected load, a dependency hit by retries) and gets its distance
//! in either direction. The run's cascade depth is the largest depth an impaired component
//! reached. Breadth-first, in component order, so ties go to the lowest index.

use cellsim_models::impact::{Cascade, CascadeNode, MAX_CASCADE_NODES};
use cellsim_models::Spec;
use cellsim_sim::Nanos;
use std::collections::VecDeque;

/// The call graph between components: by component, who calls it and whom it calls (a
/// router's call reaches every cell it routes to), each sorted and without repeats.
fn graph(spec: &Spec) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let n = spec.services.len();
    let (mut callers, mut callees) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    for call in &spec.calls {
        let Some((from, _)) = call.from else { continue };
        let targets = match call.route {
            Some(r) => spec.routes[r as usize].targets.clone(),
            None => vec![call.to],
        };
        for to in targets {
            callers[to as usize].push(from);
            callees[from as usize].push(to);
        }
    }
    for list in callers.iter_mut().chain(callees.iter_mut()) {
        list.sort_unstable();
        list.dedup();
    }
    (callers, callees)
}

/// Distances from the `faulted` components through `next(component)`'s neighbours: the
/// distance and the neighbour it came from, by component (`None`: not reached).
fn walk<'g>(
    faulted: &[bool],
    next: impl Fn(u32) -> Box<dyn Iterator<Item = u32> + 'g>,
) -> Vec<Option<(u32, Option<u32>)>> {
    let mut seen: Vec<Option<(u32, Option<u32>)>> = faulted.iter().map(|&f| f.then_some((0, None))).collect();
    let mut queue: VecDeque<u32> = (0..faulted.len() as u32).filter(|&c| faulted[c as usize]).collect();
    while let Some(c) = queue.pop_front() {
        let depth = seen[c as usize].expect("queued when seen").0;
        for n in next(c) {
            if seen[n as usize].is_none() {
                seen[n as usize] = Some((depth + 1, Some(c)));
                queue.push_back(n);
            }
        }
    }
    seen
}

/// The components connected to the `seeds` through the call graph, either way (the seeds
/// included).
pub(crate) fn connected(spec: &Spec, seeds: &[bool]) -> Vec<bool> {
    let (callers, callees) = graph(spec);
    walk(seeds, |c| Box::new(callers[c as usize].iter().chain(&callees[c as usize]).copied()))
        .into_iter()
        .map(|d| d.is_some())
        .collect()
}

/// The tree of the impaired components (`impaired_buckets` above 0), with the components on
/// the way from each to its faulted root.
pub(crate) fn tree(spec: &Spec, faulted: &[bool], impaired_buckets: &[u64], first_ns: &[Option<Nanos>]) -> Cascade {
    let n = spec.services.len();
    let (callers, callees) = graph(spec);
    let upstream = walk(faulted, |c| Box::new(callers[c as usize].iter().copied()));
    let either = walk(faulted, |c| {
        let mut all: Vec<u32> = callers[c as usize].iter().chain(&callees[c as usize]).copied().collect();
        all.sort_unstable();
        all.dedup();
        Box::new(all.into_iter())
    });
    // Upstream when a faulted component is below; otherwise lateral.
    let place = |c: usize| match upstream[c] {
        Some(u) => (Some(u), false),
        None => (either[c], either[c].is_some()),
    };
    let mut keep = vec![false; n];
    for c in (0..n).filter(|&c| impaired_buckets[c] > 0) {
        let mut at = c;
        while !std::mem::replace(&mut keep[at], true) {
            match place(at).0.and_then(|p| p.1) {
                Some(parent) => at = parent as usize,
                None => break,
            }
        }
    }
    let mut nodes: Vec<CascadeNode> = (0..n)
        .filter(|&c| keep[c])
        .map(|c| {
            let (at, lateral) = place(c);
            CascadeNode {
                component: c as u32,
                name: spec.services[c].name.clone(),
                faulted: faulted[c],
                impaired_buckets: impaired_buckets[c],
                first_impaired_ns: first_ns[c],
                depth: at.map(|a| a.0),
                lateral,
                parent: at.and_then(|a| a.1),
            }
        })
        .collect();
    let depth = nodes.iter().filter(|n| n.impaired_buckets > 0).filter_map(|n| n.depth).max().unwrap_or(0);
    nodes.sort_by_key(|n| (n.depth.unwrap_or(u32::MAX), n.component));
    let dropped = nodes.len().saturating_sub(MAX_CASCADE_NODES) as u64;
    nodes.truncate(MAX_CASCADE_NODES);
    Cascade { depth, nodes, nodes_dropped: dropped }
}
