//! Apps in people's words: what a grant lets an app do with each category ("Read your
//! addresses: 2 saved; it sees Street address, City, Postal code", "Add receipts to your
//! profile", "Be told when your addresses change"), for the consent window, the options page's
//! apps and the activity log alike. The words of a category come from its name here, and its
//! fields' labels from the host's preview (consent) or the category's definition (the options
//! page).

use profile_core::Category;
use profile_core::apps::Action;
use serde::Serialize;
use serde_json::Value;

/// What an app may do with a category, as one line of a list: the action (for its icon), the
/// sentence, and the detail under it (the fields it reads, how many are saved).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Can {
    pub action: &'static str,
    pub text: String,
    pub detail: Option<String>,
}

/// A category's items as a phrase after "your" ("addresses", "medical events"), and as a bare
/// plural after "Add" ("receipts"), and one of them ("a receipt").
pub fn phrases(category: &str) -> (&str, &str) {
    match category {
        "identity" => ("name and contact details", "a detail about you"),
        "addresses" => ("addresses", "an address"),
        "receipts" => ("receipts", "a receipt"),
        "medical" => ("medical events", "a medical event"),
        "devices" => ("home devices", "a home device"),
        "bookmarks" => ("bookmarks", "a bookmark"),
        "contacts" => ("contacts", "a contact"),
        "vehicles" => ("vehicles", "a vehicle"),
        other => (other, other),
    }
}

/// The lines of one scope, pushed onto `can`: per action, what the app will be able to do.
/// `fields` are the labels of the fields it may read, joined (`None`: all of them); `held` how
/// many the profile holds now, for the consent window. (Plain loops here and below: iterator
/// chains monomorphize into kilobytes of the module.)
pub fn scope_lines(can: &mut Vec<Can>, category: &str, actions: &[Action], fields: Option<String>, held: Option<u64>) {
    let (items, _) = phrases(category);
    for action in actions {
        can.push(match action {
            Action::Read => {
                // How many are saved first, then what of each it sees: a count after the
                // last field's label would read as that field's.
                let saved = match held {
                    Some(0) => Some("None saved yet; it will see".to_owned()),
                    Some(n) => Some(format!("{n} saved; it sees")),
                    None => None,
                };
                let detail = match (fields.clone(), saved) {
                    (which, Some(saved)) => Some(format!("{saved} {}", which.as_deref().unwrap_or("every detail"))),
                    (which, None) => which,
                };
                Can { action: "read", text: format!("Read your {items}"), detail }
            }
            Action::Append => Can { action: "append", text: format!("Add {items} to your profile"), detail: None },
            Action::Subscribe => {
                Can { action: "subscribe", text: format!("Be told when your {items} change"), detail: None }
            }
        });
    }
}

/// Labels joined with commas, as the read line's detail names them.
pub fn join(list: &mut String, label: &str) {
    if !list.is_empty() {
        list.push_str(", ");
    }
    list.push_str(label);
}

/// The label of a category's field, from its definition (an address's from the address
/// fields); the name itself when it has none.
fn field_label(category: Option<Category>, name: &str) -> &str {
    let mut label = None;
    if category == Some(Category::Addresses) {
        for field in &profile_core::ADDRESS_FIELDS {
            if field.name == name {
                label = Some(field.label);
            }
        }
    } else if let Some(category) = category {
        for field in category.def().fields {
            if field.name == name {
                label = Some(field.label);
            }
        }
    }
    label.unwrap_or(name)
}

/// What an app of `listApps` may do, line by line, from its `scopes` (`[{category, actions,
/// fields?}]` as the host writes them), read by hand: `Scope`'s derive is in the module only for
/// a page's `requestGrant`.
pub fn app_lines(scopes: &Value) -> Vec<Can> {
    let mut can = Vec::new();
    for scope in scopes.as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = scope["category"].as_str().unwrap_or_default();
        let category = Category::ALL.into_iter().find(|c| c.as_str() == name);
        let mut actions = Vec::new();
        for action in Action::ALL {
            if scope["actions"].as_array().is_some_and(|said| said.contains(&Value::from(action.as_str()))) {
                actions.push(action);
            }
        }
        let fields = scope["fields"].as_array().map(|fields| {
            let mut list = String::new();
            for field in fields {
                join(&mut list, field_label(category, field.as_str().unwrap_or_default()));
            }
            list
        });
        scope_lines(&mut can, name, &actions, fields, None);
    }
    can
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_action_on_a_category_is_one_plain_sentence() {
        let mut read = Vec::new();
        scope_lines(&mut read, "addresses", &[Action::Read], Some("Street address, City".into()), Some(2));
        assert_eq!(read[0].text, "Read your addresses");
        assert_eq!(read[0].detail.as_deref(), Some("2 saved; it sees Street address, City"));
        let mut all = Vec::new();
        scope_lines(&mut all, "receipts", &Action::ALL, None, Some(0));
        let said: Vec<_> = all.iter().map(|can| (can.action, can.text.as_str(), can.detail.as_deref())).collect();
        assert_eq!(
            said,
            [
                ("read", "Read your receipts", Some("None saved yet; it will see every detail")),
                ("append", "Add receipts to your profile", None),
                ("subscribe", "Be told when your receipts change", None),
            ]
        );
    }

    #[test]
    fn an_apps_scopes_read_with_their_fields_labels() {
        let scopes = json!([
            {"category": "addresses", "actions": ["read", "subscribe"], "fields": ["line1", "postalCode"]},
            {"category": "receipts", "actions": ["append"]},
            {"category": "medical", "actions": ["read"], "fields": ["kind", "nonsense"]},
        ]);
        let lines: Vec<_> = app_lines(&scopes).into_iter().map(|can| (can.text, can.detail)).collect();
        assert_eq!(
            lines,
            [
                ("Read your addresses".into(), Some("Street address, Postal code".into())),
                ("Be told when your addresses change".into(), None),
                ("Add receipts to your profile".into(), None),
                ("Read your medical events".into(), Some("What, nonsense".into())),
            ]
        );
        assert!(app_lines(&json!(null)).is_empty());
    }
}
