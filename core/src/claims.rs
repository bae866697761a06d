//! Claims: the pieces of a profile `window.profile.request` asks for by name (`name`, `email`,
//! `birthDate`, `address.shipping`, …), and predicates (`ageOver:18`) that answer `true` or
//! `false` and never the value they are computed from.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::AddressKind;
use crate::category::{Category, Sensitivity, clip};

/// One claim a site may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Claim {
    Name,
    GivenName,
    FamilyName,
    DisplayName,
    Email,
    Phone,
    BirthDate,
    Language,
    Address(AddressKind),
    /// Whether the person is at least this old: `true` or `false`, never the date.
    AgeOver(u8),
    /// The person's medical events, most recent first.
    Medical,
}

/// Most claims one request names (required and optional together).
pub const MAX_CLAIMS: usize = 16;
/// Longest purpose a site gives, in characters.
pub const MAX_PURPOSE: usize = 300;

impl Claim {
    /// The claims without a parameter, for listing and tests.
    pub const NAMED: [Self; 11] = [
        Self::Name,
        Self::GivenName,
        Self::FamilyName,
        Self::DisplayName,
        Self::Email,
        Self::Phone,
        Self::BirthDate,
        Self::Language,
        Self::Address(AddressKind::Shipping),
        Self::Address(AddressKind::Billing),
        Self::Medical,
    ];

    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(years) = text.strip_prefix("ageOver:") {
            return match years.parse::<u8>() {
                Ok(n @ 1..=150) if !years.starts_with('0') => Ok(Self::AgeOver(n)),
                _ => Err(format!("`{}`: ageOver takes a number of years from 1 to 150", clip(text))),
            };
        }
        Self::NAMED.into_iter().find(|c| c.name() == text).ok_or_else(|| {
            let names: Vec<&str> = Self::NAMED.iter().map(|c| c.name()).collect();
            format!("`{}` is not a claim ({}, ageOver:N)", clip(text), names.join(", "))
        })
    }

    /// The claim's name, without a predicate's parameter.
    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::GivenName => "givenName",
            Self::FamilyName => "familyName",
            Self::DisplayName => "displayName",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::BirthDate => "birthDate",
            Self::Language => "language",
            Self::Address(AddressKind::Shipping) => "address.shipping",
            Self::Address(AddressKind::Billing) => "address.billing",
            Self::AgeOver(_) => "ageOver",
            Self::Medical => "medical",
        }
    }

    /// The category it is read from.
    pub fn category(self) -> Category {
        match self {
            Self::Address(_) => Category::Addresses,
            Self::Medical => Category::Medical,
            _ => Category::Identity,
        }
    }

    /// The identity field it reads, for those that read one.
    pub fn identity_field(self) -> Option<&'static str> {
        match self {
            Self::AgeOver(_) => Some("birthDate"),
            Self::Address(_) | Self::Medical => None,
            other => Some(other.name()),
        }
    }

    /// What the consent window calls it.
    pub fn label(self) -> String {
        match self {
            Self::Name => "Your name".into(),
            Self::GivenName => "Your given name".into(),
            Self::FamilyName => "Your family name".into(),
            Self::DisplayName => "Your display name".into(),
            Self::Email => "Your email".into(),
            Self::Phone => "Your phone number".into(),
            Self::BirthDate => "Your date of birth".into(),
            Self::Language => "Your language".into(),
            Self::Address(kind) => format!("Your {} address", kind.as_str()),
            Self::AgeOver(n) => format!("Whether you are {n} or older (only yes or no: not your date of birth)"),
            Self::Medical => "Your medical events".into(),
        }
    }

    /// A site is never remembered for it.
    pub fn ask_every_time(self) -> bool {
        self.category().def().sensitivity == Sensitivity::AskEveryTime
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AgeOver(n) => write!(f, "ageOver:{n}"),
            other => f.write_str(other.name()),
        }
    }
}

impl Serialize for Claim {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Claim {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The claims of a remembered request: a set of claims with at most one age predicate. A
/// grant of a set answers, without asking, any request whose claims are all in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClaimSet {
    /// One bit per claim of [`Claim::NAMED`].
    named: u16,
    /// The years of the age predicate; 0 when there is none.
    age_over: u8,
}

impl ClaimSet {
    /// The set of `claims`; `None` when one is asked for every time (medical) or there are two
    /// age predicates.
    pub fn of(claims: impl IntoIterator<Item = Claim>) -> Option<Self> {
        let mut set = Self::default();
        for claim in claims {
            match claim {
                _ if claim.ask_every_time() => return None,
                Claim::AgeOver(n) if set.age_over == 0 || set.age_over == n => set.age_over = n,
                Claim::AgeOver(_) => return None,
                named => set.named |= 1 << Claim::NAMED.iter().position(|c| *c == named)?,
            }
        }
        Some(set)
    }

    pub fn claims(&self) -> Vec<Claim> {
        let named = Claim::NAMED.into_iter().enumerate().filter(|(i, _)| self.named & (1 << i) != 0).map(|(_, c)| c);
        named.chain((self.age_over > 0).then_some(Claim::AgeOver(self.age_over))).collect()
    }

    /// Every claim of `wanted` is in this set.
    pub fn covers(&self, wanted: &Self) -> bool {
        wanted.named & !self.named == 0 && (wanted.age_over == 0 || wanted.age_over == self.age_over)
    }
}

impl Serialize for ClaimSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.claims().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClaimSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let claims = Vec::<Claim>::deserialize(deserializer)?;
        Self::of(claims).ok_or_else(|| serde::de::Error::custom("a remembered set holds no medical claim and one age"))
    }
}

/// `request`'s parameters: the claims the site needs, those the person may leave out, and why
/// it asks. Bounded: at most [`MAX_CLAIMS`] claims, none twice, one age predicate, a purpose of
/// 1 to [`MAX_PURPOSE`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawRequest")]
pub struct ClaimsRequest {
    pub claims: Vec<Claim>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub optional: Vec<Claim>,
    pub purpose: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    claims: Vec<Claim>,
    #[serde(default)]
    optional: Vec<Claim>,
    purpose: String,
}

impl TryFrom<RawRequest> for ClaimsRequest {
    type Error = String;

    fn try_from(raw: RawRequest) -> Result<Self, Self::Error> {
        let RawRequest { claims, optional, purpose } = raw;
        let all: Vec<Claim> = claims.iter().chain(&optional).copied().collect();
        if all.is_empty() {
            return Err("`claims` names nothing".into());
        }
        if all.len() > MAX_CLAIMS {
            return Err(format!("at most {MAX_CLAIMS} claims may be asked for at once"));
        }
        if let Some(twice) = all.iter().enumerate().find(|(i, c)| all[..*i].contains(c)) {
            return Err(format!("`{}` is named twice", twice.1));
        }
        if all.iter().filter(|c| matches!(c, Claim::AgeOver(_))).count() > 1 {
            return Err("ask for one age at a time".into());
        }
        let purpose = purpose.trim().to_owned();
        if purpose.is_empty() || purpose.chars().count() > MAX_PURPOSE || purpose.chars().any(char::is_control) {
            return Err(format!("`purpose` says why, in 1 to {MAX_PURPOSE} characters of one line"));
        }
        Ok(Self { claims, optional, purpose })
    }
}

impl ClaimsRequest {
    /// Every claim asked for, required first.
    pub fn all(&self) -> impl Iterator<Item = Claim> + '_ {
        self.claims.iter().chain(&self.optional).copied()
    }

    /// The same request with only the optional claims the person kept.
    pub fn keeping(&self, kept: &[Claim]) -> Self {
        Self { optional: self.optional.iter().filter(|c| kept.contains(c)).copied().collect(), ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn claims_read_and_write_by_their_names() {
        for claim in Claim::NAMED.into_iter().chain([Claim::AgeOver(18)]) {
            assert_eq!(Claim::parse(&claim.to_string()).unwrap(), claim);
        }
        assert!(Claim::parse("ageOver:0").is_err() && Claim::parse("ageOver:018").is_err());
        assert!(Claim::parse("ageOver:151").is_err() && Claim::parse("ssn").unwrap_err().contains("not a claim"));
    }

    #[test]
    fn a_request_is_bounded_and_names_each_claim_once() {
        let ok: ClaimsRequest = serde_json::from_value(json!({"claims": ["name", "ageOver:18"],
            "optional": ["email"], "purpose": "To ship your order"}))
        .unwrap();
        assert_eq!(ok.all().collect::<Vec<_>>(), [Claim::Name, Claim::AgeOver(18), Claim::Email]);
        assert_eq!(ok.keeping(&[]).optional, []);
        for bad in [
            json!({"claims": ["name", "name"], "purpose": "x"}),
            json!({"claims": ["name"], "optional": ["name"], "purpose": "x"}),
            json!({"claims": ["ageOver:18", "ageOver:21"], "purpose": "x"}),
            json!({"claims": [], "purpose": "x"}),
            json!({"claims": ["name"], "purpose": ""}),
            json!({"claims": ["name"], "purpose": "x".repeat(301)}),
            json!({"claims": ["name"]}),
            json!({"claims": ["passport"], "purpose": "x"}),
            json!({"claims": ["name"], "purpose": "x", "extra": 1}),
        ] {
            assert!(serde_json::from_value::<ClaimsRequest>(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_remembered_set_covers_its_subsets_and_never_medical() {
        let set = ClaimSet::of([Claim::Name, Claim::Email, Claim::AgeOver(18)]).unwrap();
        assert!(set.covers(&ClaimSet::of([Claim::Name]).unwrap()));
        assert!(set.covers(&ClaimSet::of([Claim::AgeOver(18), Claim::Email]).unwrap()));
        assert!(!set.covers(&ClaimSet::of([Claim::AgeOver(21)]).unwrap()));
        assert!(!set.covers(&ClaimSet::of([Claim::Phone]).unwrap()));
        assert_eq!(ClaimSet::of([Claim::Name, Claim::Medical]), None);
        let json = serde_json::to_value(set).unwrap();
        assert_eq!(json, json!(["name", "email", "ageOver:18"]));
        assert_eq!(serde_json::from_value::<ClaimSet>(json).unwrap(), set);
        assert!(serde_json::from_value::<ClaimSet>(json!(["medical"])).is_err());
    }
}
