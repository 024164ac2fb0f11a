//! Names and references: unique names, the table of request types, the one resolver of a
//! name to an index, and the check that the call graph has no cycle.

use super::service::Names;
use super::Checker;
use crate::error::did_you_mean;
use crate::scenario::{CallSection, ServiceSection, WorkloadSection};
use crate::units::Loc;
use std::collections::BTreeMap;

impl Checker<'_> {
    /// The index of each name, in order; an empty or repeated name is an error (`what` names
    /// the table, as in `service` or `workload.w.request`).
    pub(super) fn unique_names<'n>(
        &mut self,
        names: impl Iterator<Item = &'n Loc<String>>,
        what: &str,
    ) -> BTreeMap<String, u32> {
        let mut ids = BTreeMap::new();
        for (i, n) in names.enumerate() {
            if n.value.trim().is_empty() {
                self.err(n.span.clone(), format!("{what}.name"), format!("a {what} name must not be empty"));
            } else if ids.insert(n.value.clone(), i as u32).is_some() {
                self.err(n.span.clone(), format!("{what}.name"), format!("{what} `{}` is defined twice", n.value))
                    .hint(format!("{what} names must be unique"));
            }
        }
        ids
    }

    /// Request type names across all workloads, in order of first use, and their ids (a name
    /// used by two workloads is one type).
    pub(super) fn type_table(&mut self, workloads: &[Loc<WorkloadSection>]) -> (Vec<String>, BTreeMap<String, u16>) {
        let mut names = Vec::new();
        let mut ids = BTreeMap::new();
        for w in workloads {
            for r in &w.value.requests {
                let name = &r.value.name.value;
                if !ids.contains_key(name) {
                    ids.insert(name.clone(), names.len() as u16);
                    names.push(name.clone());
                }
            }
        }
        (names, ids)
    }

    /// The index of the `what` (a service, say) called `name`; an unknown name is an error
    /// at `field`, with the closest defined name as a hint, and resolves to 0.
    pub(super) fn resolve(
        &mut self,
        what: &str,
        name: &Loc<String>,
        ids: &BTreeMap<String, u32>,
        field: String,
    ) -> u32 {
        match ids.get(&name.value) {
            Some(&i) => i,
            None => {
                // (At most 20 names listed, and suggestions only among a few hundred: cells can
                // make thousands of services, each copy's error costing a search.)
                const LISTED: usize = 20;
                const SEARCHED: usize = 256;
                let suggestion = if ids.len() <= SEARCHED {
                    did_you_mean(&name.value, ids.keys().map(String::as_str))
                } else {
                    None
                };
                let hint = match suggestion {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if ids.len() > LISTED => {
                        let some: Vec<&str> = ids.keys().take(LISTED).map(String::as_str).collect();
                        format!("defined {what}s: {} and {} more", some.join(", "), ids.len() - LISTED)
                    }
                    None => format!("defined {what}s: {}", ids.keys().cloned().collect::<Vec<_>>().join(", ")),
                };
                self.err(name.span.clone(), field, format!("no {what} is named `{}`", name.value)).hint(hint);
                0
            }
        }
    }

    /// The operation of service `to` that a call names (`given`), or its only one; the
    /// call's `to` is `to_name`, its keys at `path`.
    pub(super) fn callee_operation(
        &mut self,
        to: u32,
        given: Option<&Loc<String>>,
        to_name: &Loc<String>,
        names: &Names,
        path: &str,
    ) -> u16 {
        if !names.services.contains_key(&to_name.value) {
            return 0; // reported by `resolve`
        }
        let ops = &names.operations[to as usize];
        let list = || ops.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        match given {
            Some(g) => match ops.get(&g.value) {
                Some(&i) => i as u16,
                None => {
                    let hint = match did_you_mean(&g.value, ops.keys().map(String::as_str)) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("its operations: {}", list()),
                    };
                    let message = format!("service `{}` has no operation named `{}`", to_name.value, g.value);
                    self.err(g.span.clone(), format!("{path}.operation"), message).hint(hint);
                    0
                }
            },
            None if ops.len() > 1 => {
                let message =
                    format!("service `{}` has {} operations: the call must name one", to_name.value, ops.len());
                self.err(to_name.span.clone(), format!("{path}.operation"), message)
                    .hint(format!("add operation = \"...\", one of {}", list()));
                0
            }
            None => 0,
        }
    }

    /// The id of request type `name`; an unknown one is an error at `field` and gives `None`.
    pub(super) fn request_type(
        &mut self,
        name: &Loc<String>,
        type_names: &[String],
        types: &BTreeMap<String, u16>,
        field: String,
    ) -> Option<u16> {
        if let Some(&id) = types.get(&name.value) {
            return Some(id);
        }
        let hint = match did_you_mean(&name.value, type_names.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("request types: {}", type_names.join(", ")),
        };
        self.err(name.span.clone(), field, format!("no workload has a request type named `{}`", name.value)).hint(hint);
        None
    }

    /// Reports each cycle of the call graph once, at the call that closes it, and a call
    /// chain deeper than [`MAX_CALL_DEPTH`] services.
    pub(super) fn check_cycles(&mut self, services: &[Loc<ServiceSection>], ids: &BTreeMap<String, u32>) {
        // Depth-first search in file order, without recursion (a graph may be deep): a call to
        // a service on the current path closes a cycle. `path` holds each service on the
        // path with the index of its next call to follow.
        let n = services.len();
        let calls: Vec<Vec<&Loc<CallSection>>> = services.iter().map(|s| s.value.all_calls().collect()).collect();
        let mut state = vec![0u8; n]; // 0 new, 1 on the path, 2 done
        let mut depth_reported = false;
        let mut height = vec![0usize; n];
        for start in 0..n {
            if state[start] != 0 {
                continue;
            }
            state[start] = 1;
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            while let Some(&mut (s, ref mut next)) = path.last_mut() {
                let Some(call) = calls[s].get(*next) else {
                    // Done: its chain is one longer than its callees' longest.
                    let callees = calls[s].iter().filter_map(|c| ids.get(&c.value.to.value));
                    height[s] = 1 + callees.map(|&t| height[t as usize]).max().unwrap_or(0);
                    if height[s] > MAX_CALL_DEPTH && !depth_reported {
                        depth_reported = true;
                        self.err(
                            services[s].value.name.span.clone(),
                            format!("service.{}", services[s].value.name.value),
                            format!("the calls from here chain more than {MAX_CALL_DEPTH} services deep"),
                        )
                        .hint("real call graphs are a few hops deep; shorten the chain");
                    }
                    state[s] = 2;
                    path.pop();
                    continue;
                };
                *next += 1;
                let Some(&t) = ids.get(&call.value.to.value) else { continue };
                let t = t as usize;
                if state[t] == 1 {
                    let from = path.iter().position(|&(p, _)| p == t).unwrap_or(0);
                    let mut names: Vec<&str> =
                        path[from..].iter().map(|&(p, _)| services[p].value.name.value.as_str()).collect();
                    names.push(&services[t].value.name.value);
                    self.err(
                        call.value.to.span.clone(),
                        format!("service.{}.call.to", services[s].value.name.value),
                        format!("the call graph has a cycle: {}", names.join(" -> ")),
                    )
                    .hint("a request would call itself forever; remove one call of the cycle");
                } else if state[t] == 0 {
                    state[t] = 1;
                    path.push((t, 0));
                }
            }
        }
    }
}

/// The deepest call chain a scenario may have, in services (a bound on the model's nesting).
pub const MAX_CALL_DEPTH: usize = 1_000;
