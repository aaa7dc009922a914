//! Which tables filter which: for a table F, every table reachable from F by walking active 1:N relationships
//! from the many side to the one side, by the shortest path. Two different shortest paths between the same
//! pair are ambiguous (DAX refuses them too) and rejected when the model loads.

use std::collections::VecDeque;

use super::{Grain, Model, ModelError, TableId};

/// The relationships (indexes into `Model::relationships`) leading from a table up to each table that filters
/// it: `paths[t]` is `None` when `t` does not filter it, `Some(vec![])` for the table itself.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub paths: Vec<Option<Vec<usize>>>,
}

impl Upstream {
    pub fn reaches(&self, t: TableId) -> bool {
        self.paths.get(t).is_some_and(|p| p.is_some())
    }
}

fn describe(model: &Model, fact: TableId, path: &[usize]) -> String {
    let mut names = vec![model.tables[fact].name.clone()];
    for &r in path {
        names.push(model.tables[model.relationships[r].one].name.clone());
    }
    names.reverse();
    names.join(" → ")
}

/// Breadth-first from `fact` towards the one sides, keeping every shortest path so ambiguity can be reported.
fn walk(model: &Model, fact: TableId) -> Result<Upstream, (TableId, Vec<usize>, Vec<usize>)> {
    walk_with(model, fact, &|_, r| r.active)
}

/// As [`walk`], with `active` deciding which relationships filter (USERELATIONSHIP, CROSSFILTER(..., NONE)).
fn walk_with(
    model: &Model,
    fact: TableId,
    active: &dyn Fn(usize, &super::Relationship) -> bool,
) -> Result<Upstream, (TableId, Vec<usize>, Vec<usize>)> {
    let n = model.tables.len();
    let mut paths: Vec<Option<Vec<usize>>> = vec![None; n];
    paths[fact] = Some(vec![]);
    let mut queue = VecDeque::from([fact]);
    while let Some(t) = queue.pop_front() {
        let here = paths[t].clone().unwrap_or_default();
        for (i, r) in model.relationships.iter().enumerate() {
            if r.many != t || !active(i, r) || r.grain != Grain::Row {
                continue;
            }
            let mut path = here.clone();
            path.push(i);
            match &paths[r.one] {
                None => {
                    paths[r.one] = Some(path);
                    queue.push_back(r.one);
                }
                Some(existing) if existing.len() == path.len() && *existing != path => {
                    return Err((r.one, existing.clone(), path));
                }
                Some(_) => {}
            }
        }
    }
    Ok(Upstream { paths })
}

pub fn upstream(model: &Model, fact: TableId) -> Upstream {
    walk(model, fact).unwrap_or_else(|_| Upstream { paths: vec![None; model.tables.len()] })
}

/// The upstream of `fact` with relationships switched on (`use_`: USERELATIONSHIP, which also switches off the
/// other relationships between the same two tables) or off (`off`: CROSSFILTER NONE). Two paths of the same
/// length resolve to the first found.
pub fn upstream_with(model: &Model, fact: TableId, use_: &[usize], off: &[usize]) -> Upstream {
    let active = |i: usize, r: &super::Relationship| {
        if off.contains(&i) {
            return false;
        }
        if use_.contains(&i) {
            return true;
        }
        let replaced = use_.iter().any(|&u| {
            let o = &model.relationships[u];
            o.one == r.one && o.many == r.many
        });
        r.active && !replaced
    };
    walk_with(model, fact, &active).unwrap_or_else(|(_, _, _)| {
        // Ambiguity only arises from the override itself; fall back to the model's own paths.
        upstream(model, fact)
    })
}

/// Rejects two active paths of the same length between two tables, naming both.
pub fn check_paths(model: &Model) -> Result<(), ModelError> {
    for fact in 0..model.tables.len() {
        if let Err((_, a, b)) = walk(model, fact) {
            let anchor = model.relationships[*b.last().unwrap_or(&0)].anchor.clone();
            return Err(ModelError::new(
                anchor,
                format!(
                    "two active paths between `{}` and `{}`: {} and {}; make one relationship `active: false`",
                    model.tables[model.relationships[*a.last().unwrap_or(&0)].one].name,
                    model.tables[fact].name,
                    describe(model, fact, &a),
                    describe(model, fact, &b)
                ),
            ));
        }
    }
    Ok(())
}
