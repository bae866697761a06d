//! Installing the host manifests, and checking the whole setup (`doctor`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::Path;
use std::process::ExitCode;

use super::*;
use crate::local::session::open_store;
use crate::manifest::{self, Browser, Verdict};

pub(super) fn install(target: Target, extension_id: String) -> Result<ExitCode, String> {
    let host = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| format!("cannot locate this binary: {e}"))?;
    let browsers = target.browsers();
    if browsers.is_empty() {
        return Err("no supported browser profile found; name one with --browser".into());
    }
    for browser in browsers {
        let path = manifest::install(browser, target.user_data_dir.as_deref(), &host, &extension_id)?;
        say!("{:<9} installed {}", browser.name(), path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn uninstall(target: Target) -> Result<ExitCode, String> {
    let browsers = if target.browsers.is_empty() && target.user_data_dir.is_none() {
        Browser::ALL.to_vec()
    } else {
        target.browsers()
    };
    for browser in browsers {
        if let Some(path) = manifest::uninstall(browser, target.user_data_dir.as_deref())? {
            say!("{:<9} removed {}", browser.name(), path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn doctor(target: &Target, extension_id: &str, home: &Path) -> ExitCode {
    let mut rows: Vec<(String, Verdict, String)> = Vec::new();
    let this_host = std::env::current_exe().unwrap_or_default();
    let explicit = !target.browsers.is_empty() || target.user_data_dir.is_some();
    let browsers = if explicit { target.browsers() } else { Browser::ALL.to_vec() };
    for browser in browsers {
        let path = match target.user_data_dir.as_deref() {
            Some(dir) => manifest::manifest_path(browser, Some(dir)),
            None => crate::manifest::platform::registered_manifest(browser)
                .ok_or_else(|| "not registered with the browser".to_owned()),
        };
        let (verdict, detail) = match path {
            Ok(path) => manifest::check(browser, &path, extension_id, &this_host),
            Err(e) if target.user_data_dir.is_none() => (Verdict::Absent, e),
            Err(e) => (Verdict::Fault, e),
        };
        // A browser the person named must have the manifest.
        let verdict = if explicit && verdict == Verdict::Absent { Verdict::Fault } else { verdict };
        rows.push((format!("{} manifest", browser.name()), verdict, detail));
    }
    if !explicit && rows.iter().all(|(_, v, _)| *v == Verdict::Absent) {
        rows.push((
            "manifests".into(),
            Verdict::Fault,
            "no browser has the host manifest: run `profile-host install`".into(),
        ));
    }
    match crate::local::keystore::OsKeystore::check() {
        Ok(_) => rows.push(("keystore".into(), Verdict::Ok, format!("{} reachable", crate::local::keystore::NAME))),
        Err(e) => rows.push(("keystore".into(), Verdict::Fault, e.to_string())),
    }
    match open_store(home).and_then(|s| s.state().map(|state| (s, state))) {
        Ok((store, state)) => {
            rows.push((
                "state".into(),
                Verdict::Ok,
                format!(
                    "{} decrypts ({}, {})",
                    store.dir().display(),
                    count(state.address_book.len(), "address", "addresses"),
                    count(state.accounts.len(), "account", "accounts")
                ),
            ));
            match state.server.as_ref() {
                Some(link) => match &link.halted {
                    Some(halt) => rows.push(("sync".into(), Verdict::Fault, halt.explain())),
                    None => rows.push(("sync".into(), Verdict::Ok, format!("paired with {}", link.api_base))),
                },
                None => rows.push(("sync".into(), Verdict::Absent, "not paired with a profile server".into())),
            }
        }
        Err(e) => rows.push(("state".into(), Verdict::Fault, e.to_string())),
    }
    say!("{:<18} {:<6} DETAIL", "CHECK", "RESULT");
    for (check, verdict, detail) in &rows {
        let label = match verdict {
            Verdict::Ok => "ok",
            Verdict::Absent => "-",
            Verdict::Fault => "FAULT",
        };
        say!("{check:<18} {label:<6} {detail}");
    }
    let faults = rows.iter().filter(|(_, v, _)| *v == Verdict::Fault).count();
    if faults == 0 {
        say!("\nall good");
        ExitCode::SUCCESS
    } else {
        say!("\n{}", count(faults, "fault", "faults"));
        ExitCode::FAILURE
    }
}
