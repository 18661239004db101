//! The variables templates read: `target.*`, `run.*`, `discovery.*` and one
//! root per step capture (`as = "name"`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::scenario::template::Vars;

/// Variable roots and their values.
#[derive(Debug, Clone, Default)]
pub struct VarStore {
    roots: BTreeMap<String, Value>,
}

impl VarStore {
    pub fn set(&mut self, root: impl Into<String>, value: Value) {
        self.roots.insert(root.into(), value);
    }

    pub fn get_root(&self, root: &str) -> Option<&Value> {
        self.roots.get(root)
    }

    /// A value by dotted path.
    pub fn get(&self, path: &str) -> Option<Value> {
        let segs: Vec<String> = path.split('.').map(str::to_owned).collect();
        self.lookup(&segs)
    }
}

/// Walks objects by key and arrays by index.
pub fn walk<'a>(mut v: &'a Value, path: &[String]) -> Option<&'a Value> {
    for seg in path {
        v = match v {
            Value::Object(m) => m.get(seg.as_str())?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

impl Vars for VarStore {
    fn lookup(&self, path: &[String]) -> Option<Value> {
        let (root, rest) = path.split_first()?;
        let v = walk(self.roots.get(root)?, rest)?;
        // An explicit null (a member the server did not send) counts as unset.
        (!v.is_null()).then(|| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn looks_up_nested_paths_and_indexes() {
        let mut v = VarStore::default();
        v.set("a", json!({"b": [{"c": 1}], "n": null}));
        assert_eq!(v.get("a.b.0.c"), Some(json!(1)));
        assert_eq!(v.get("a.n"), None);
        assert_eq!(v.get("a.x"), None);
        assert_eq!(v.get("zz"), None);
    }
}
