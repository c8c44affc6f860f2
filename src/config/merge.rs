//! A user's file over the shipped defaults (config/record.yaml), key by key.
//!
//! Mappings merge recursively, so a file holding only `robot_name` keeps every shipped value.
//! Lists and scalars replace: giving `topics.exclude` replaces the shipped exclusion list (the
//! explicit way to record `/rosout` or `/diagnostics`), while `topics.all: true` alone keeps it.
//! The topic *selection* (`topics.all`, `names`, `include`) is one choice: a file that sets any
//! of the three replaces all three (those it leaves out are off / empty), so `names: [/imu]`
//! records `/imu` rather than `/imu` plus the shipped `all: true`.

use serde_yaml_ng::Value as Yaml;

const SELECTION_KEYS: [&str; 3] = ["all", "names", "include"];

/// `user` merged over `base` (both parameter mappings, ROS wrappers already removed).
pub fn over_defaults(mut base: Yaml, user: Yaml) -> Yaml {
    if let (Some(Yaml::Mapping(b)), Some(Yaml::Mapping(u))) =
        (base.get_mut("topics"), user.get("topics"))
    {
        if SELECTION_KEYS.iter().any(|k| u.contains_key(*k)) {
            for k in SELECTION_KEYS {
                b.remove(k);
            }
        }
    }
    deep(base, user)
}

fn deep(base: Yaml, user: Yaml) -> Yaml {
    match (base, user) {
        (Yaml::Mapping(mut b), Yaml::Mapping(u)) => {
            for (k, v) in u {
                let merged = match b.remove(&k) {
                    Some(old) => deep(old, v),
                    None => v,
                };
                b.insert(k, merged);
            }
            Yaml::Mapping(b)
        }
        // `topics:` with nothing under it says nothing: the defaults stay.
        (b @ Yaml::Mapping(_), Yaml::Null) => b,
        (_, u) => u,
    }
}
