//! What a site says of itself: its `.well-known/personal-profile` registration and its
//! registrable domain, for the consent window.

use profile_core::Origin;
use profile_core::wire::SiteApp;

use super::Host;

/// How long a site's registration (or its absence) is remembered.
const SITE_APP_TTL: std::time::Duration = std::time::Duration::from_secs(600);

impl Host {
    /// What the site calls itself, from its `/.well-known/personal-profile` (fetched with a
    /// short timeout and remembered for a while, absence included). A missing, slow or
    /// malformed document is no name, never an error.
    pub(super) fn site_app(&self, origin: &Origin) -> Option<SiteApp> {
        let now = std::time::Instant::now();
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, app)) = apps.get(origin)
            && now.duration_since(*at) < SITE_APP_TTL
        {
            return app.clone();
        }
        drop(apps);
        let url = format!("{origin}/.well-known/personal-profile");
        let app = self.client().fetch_document(&url).as_ref().and_then(SiteApp::from_document);
        apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if apps.len() > 1_000 {
            apps.clear();
        }
        apps.insert(origin.clone(), (now, app.clone()));
        app
    }
}

/// The part of the origin's host a person should read as "the site": `example.co.uk` for
/// `www.example.co.uk`, from the Public Suffix List. `None` for IP addresses and `localhost`.
pub(super) fn registrable_domain(origin: &Origin) -> Option<String> {
    let host = origin.host();
    if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return None;
    }
    let domain = psl::domain(host.as_bytes())?;
    std::str::from_utf8(domain.as_bytes()).ok().map(str::to_owned)
}
