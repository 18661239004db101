//! Property tests of scenario templates (`{{ expr }}` in scenario strings):
//! text without templates is left alone, and a path renders exactly the
//! value the variables hold, in text and as a typed value.

use std::collections::BTreeMap;

use mcp_conform::scenario::template::{Template, Vars};
use proptest::prelude::*;
use serde_json::Value;

/// Variables from a map keyed by the dotted path.
struct MapVars(BTreeMap<String, Value>);

impl Vars for MapVars {
    fn lookup(&self, path: &[String]) -> Option<Value> {
        self.0.get(&path.join(".")).cloned()
    }
}

fn no_vars() -> MapVars {
    MapVars(BTreeMap::new())
}

/// Text that never opens a template (no `{{`), including braces, quotes and
/// non-ASCII.
fn literal() -> impl Strategy<Value = String> {
    "[^{]{0,40}(\\{[^{]{1,10}){0,3}".prop_filter("no `{{`", |s| !s.contains("{{"))
}

/// A variable path: identifiers joined by `.`, as scenario captures name
/// them (`tokens.access_token`, `discovery.as.token_endpoint`).
fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z_][a-z0-9_-]{0,8}", 1..4).prop_map(|segs| segs.join("."))
}

/// A value a capture can hold: a string, a number, a boolean.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[^\\x00]{0,20}".prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

proptest! {
    #[test]
    fn literals_render_to_themselves(text in literal()) {
        let t = Template::parse(&text).expect("text without `{{` is a template");
        prop_assert!(t.paths().is_empty());
        prop_assert_eq!(t.render(&no_vars()), Ok(text.clone()));
        // Rendering to a value keeps literal text a string.
        prop_assert_eq!(t.render_value(&no_vars()), Ok(Value::String(text)));
    }

    #[test]
    fn a_path_renders_the_looked_up_value(
        prefix in literal(),
        p in path(),
        v in value(),
        suffix in literal(),
        spaces in 0usize..3,
    ) {
        // A prefix ending in `{` would make `{{{`, opening one brace early.
        prop_assume!(!prefix.ends_with('{'));
        let pad = " ".repeat(spaces);
        let text = format!("{prefix}{{{{{pad}{p}{pad}}}}}{suffix}");
        let t = Template::parse(&text).unwrap();
        let segments: Vec<String> = p.split('.').map(str::to_owned).collect();
        prop_assert_eq!(t.paths(), vec![segments]);
        let vars = MapVars(BTreeMap::from([(p.clone(), v.clone())]));
        prop_assert_eq!(t.render(&vars), Ok(format!("{prefix}{}{suffix}", text_of(&v))));
        // Unset, it is an error naming the path, not an empty string.
        let missing = t.render(&no_vars()).unwrap_err();
        prop_assert!(missing.to_string().contains(&p));
    }

    #[test]
    fn a_lone_path_keeps_the_value_type(p in path(), v in value()) {
        let t = Template::parse(&format!("{{{{ {p} }}}}")).unwrap();
        let vars = MapVars(BTreeMap::from([(p, v.clone())]));
        prop_assert_eq!(t.render_value(&vars), Ok(v));
    }

    #[test]
    fn string_and_integer_literals_render_to_their_value(s in "[^}\\\\\"]{0,20}", n in any::<i64>()) {
        let t = Template::parse(&format!("{{{{ \"{s}\" }}}}-{{{{ {n} }}}}")).unwrap();
        prop_assert_eq!(t.render(&no_vars()), Ok(format!("{s}-{n}")));
    }
}
