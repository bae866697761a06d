//! Packages the unpacked extension into `target/extension/{chromium,firefox}/`:
//!
//! 1. builds `profile-extension` for `wasm32-unknown-unknown` with the `wasm-release` profile, in
//!    its own target dir (`target/extension-build`) so the nested cargo never waits on the lock
//!    of the build that runs this script;
//! 2. runs wasm-bindgen (`--target web`) through `wasm-bindgen-cli-support`;
//! 3. shrinks the module with `wasm-opt -Oz`: binaryen as pinned in `tools/binaryen/` (npm's
//!    `binaryen`, installed on first use into `target/tools/binaryen/` with `npm ci`, run on
//!    node), or `$WASM_OPT`, or a `wasm-opt` on the PATH of version 116 or later; a warning when
//!    none can be had (`scripts/provision` installs node and npm);
//! 4. copies `extension/static/` and writes each browser's `manifest.json` from
//!    `extension/manifest.json`, with the committed public key (Chromium) or the add-on id
//!    (Firefox);
//! 5. zips each for store upload: `target/extension/personal-profile-{chromium,firefox}.zip`
//!    (the Chrome Web Store refuses a manifest with `key`, so that zip's manifest has none).
//!
//! With the test-only feature `panic-probe` (the test command turns it on) the module is built
//! with a page method that panics on purpose, so the tests can show a panic is survived; that
//! build goes to `target/extension-test/` instead, never where the product's is.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const FIREFOX_ADDON_ID: &str = "profile@personalprofile.org";

fn main() -> Result<()> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    for watched in [
        "extension/src",
        "extension/static",
        "extension/manifest.json",
        "extension/public-key.b64",
        "extension/Cargo.toml",
        "core/src",
        "core/Cargo.toml",
        "tools/binaryen/package-lock.json",
    ] {
        println!("cargo:rerun-if-changed={watched}");
    }
    println!("cargo:rerun-if-env-changed=WASM_OPT");
    let target = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let probe = env::var_os("CARGO_FEATURE_PANIC_PROBE").is_some();
    let wasm = build_wasm(&root, &target, probe)?;
    let packages = target.join(if probe { "extension-test" } else { "extension" });
    let pkg = packages.join("pkg");
    fs::create_dir_all(&pkg)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .typescript(false)
        .remove_producers_section(true)
        // `__wbg_reset_state`: after a trap (a Rust panic) the service worker instantiates the
        // module afresh instead of running on a broken one.
        .reset_state_function(true)
        .generate(&pkg)?;
    optimize(&root, &target, &pkg.join("profile_extension_bg.wasm"));

    let manifest: manifest::Manifest = manifest::Manifest::read(&root.join("extension/manifest.json"))?;
    let key = fs::read_to_string(root.join("extension/public-key.b64"))?.trim().to_owned();
    // Where the cross-component tests find the packaged extension.
    println!("cargo:rustc-env=PROFILE_EXTENSION_DIR={}", packages.join("chromium").display());
    for browser in ["chromium", "firefox"] {
        let out = packages.join(browser);
        if out.exists() {
            fs::remove_dir_all(&out)?;
        }
        copy_dir(&root.join("extension/static"), &out)?;
        copy_dir(&pkg, &out.join("pkg"))?;
        let (unpacked, store) = if browser == "chromium" {
            (manifest.for_chromium(Some(&key)), manifest.for_chromium(None))
        } else {
            let text = manifest.for_firefox(FIREFOX_ADDON_ID);
            (text.clone(), text)
        };
        fs::write(out.join("manifest.json"), unpacked)?;
        zip_for_store(&out, &store, &packages.join(format!("personal-profile-{browser}.zip")))?;
    }
    Ok(())
}

/// Zips the unpacked extension in `dir` with `manifest` as its manifest.
fn zip_for_store(dir: &Path, manifest: &str, path: &Path) -> Result<()> {
    let mut zip = zip::ZipWriter::new(fs::File::create(path)?);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut files = Vec::new();
    list_files(dir, dir, &mut files)?;
    files.sort();
    for name in files {
        zip.start_file(name.as_str(), options)?;
        if name == "manifest.json" {
            zip.write_all(manifest.as_bytes())?;
        } else {
            zip.write_all(&fs::read(dir.join(&name))?)?;
        }
    }
    zip.finish()?;
    Ok(())
}

/// Paths of the files under `dir`, relative to `root`, with `/` separators.
fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            list_files(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root)?.components();
            out.push(relative.map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
        }
    }
    Ok(())
}

fn build_wasm(root: &Path, target: &Path, probe: bool) -> Result<PathBuf> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build_dir = target.join("extension-build");
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "-p", "profile-extension", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release"])
        .args(if probe { &["--features", "panic-probe"][..] } else { &[] })
        .arg("--target-dir")
        .arg(&build_dir)
        // The outer build's flags are for the host platform, not for wasm32.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        // Under `cargo clippy` the outer build sets these; the packaged module is a plain build.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .status()?;
    if !status.success() {
        return Err("building profile-extension for wasm32-unknown-unknown failed (is the target installed? `rustup target add wasm32-unknown-unknown`)".into());
    }
    Ok(build_dir.join("wasm32-unknown-unknown/wasm-release/profile_extension.wasm"))
}

/// `wasm-opt -Oz` with the features rustc's wasm32 output uses. Binaryen before 116 (Debian 12
/// ships 108) rewrites wasm-bindgen's `externref` table as the old proposal's `anyref`, which
/// current V8 refuses at init ("WebAssembly.Table.set(): Argument 1 is invalid for table"), so
/// an older one is never used and, with none at all, the module is left as wasm-bindgen wrote it.
fn optimize(root: &Path, target: &Path, wasm: &Path) {
    let mut wasm_opt = match wasm_opt(root, target) {
        Ok(command) => command,
        Err(why) => {
            println!("cargo:warning={why}: the extension's .wasm is not size-optimized");
            return;
        }
    };
    let features = [
        "--enable-bulk-memory",
        "--enable-reference-types",
        "--enable-sign-ext",
        "--enable-mutable-globals",
        "--enable-nontrapping-float-to-int",
        "--enable-multivalue",
    ];
    let status = wasm_opt.arg("-Oz").arg("--strip-debug").args(features).arg(wasm).arg("-o").arg(wasm).status();
    if !status.is_ok_and(|s| s.success()) {
        println!("cargo:warning=wasm-opt failed: the extension's .wasm is not size-optimized");
    }
}

/// Oldest binaryen whose `wasm-opt` keeps wasm-bindgen's `externref` table.
const MIN_BINARYEN: u32 = 116;

/// The `wasm-opt` to run: `$WASM_OPT` when set; else the pinned npm `binaryen` (installed into
/// `TARGET/tools/binaryen/` when missing or when the committed lock changed); else a `wasm-opt`
/// on the PATH that is new enough.
fn wasm_opt(root: &Path, target: &Path) -> std::result::Result<Command, String> {
    if let Some(path) = env::var_os("WASM_OPT") {
        let command = || Command::new(&path);
        return match binaryen_version(command()) {
            Some(v) if v >= MIN_BINARYEN => Ok(command()),
            Some(v) => Err(format!("$WASM_OPT is binaryen {v}, older than {MIN_BINARYEN}")),
            None => Err(format!("$WASM_OPT ({}) does not run", Path::new(&path).display())),
        };
    }
    let pinned = match pinned_binaryen(root, target) {
        Ok(script) => return Ok(node(&script)),
        Err(why) => why,
    };
    match binaryen_version(Command::new("wasm-opt")) {
        Some(v) if v >= MIN_BINARYEN => Ok(Command::new("wasm-opt")),
        Some(v) => Err(format!("{pinned}, and the wasm-opt on the PATH is binaryen {v}, older than {MIN_BINARYEN}")),
        None => Err(format!("{pinned}, and there is no wasm-opt on the PATH")),
    }
}

fn node(script: &Path) -> Command {
    let mut command = Command::new("node");
    command.arg(script);
    command
}

/// The version a `wasm-opt --version` prints ("wasm-opt version 132 (version_132)").
fn binaryen_version(mut wasm_opt: Command) -> Option<u32> {
    let out = wasm_opt.arg("--version").output().ok().filter(|out| out.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().skip_while(|w| *w != "version").nth(1).and_then(|v| v.parse().ok())
}

/// The pinned binaryen's `wasm-opt` script, installed from `tools/binaryen/package-lock.json`
/// (version and sha512 pinned) into `TARGET/tools/binaryen/` when it is not there yet. The
/// install goes to a folder of its own and is renamed into place, so a build that stops halfway
/// or runs beside another leaves no half-installed tool behind.
fn pinned_binaryen(root: &Path, target: &Path) -> std::result::Result<PathBuf, String> {
    let source = root.join("tools/binaryen");
    let lock = fs::read(source.join("package-lock.json")).map_err(|e| format!("tools/binaryen: {e}"))?;
    let dir = target.join("tools/binaryen");
    let script = |dir: &Path| dir.join("node_modules/binaryen/bin/wasm-opt");
    if fs::read(dir.join("package-lock.json")).is_ok_and(|installed| installed == lock) && script(&dir).is_file() {
        return Ok(script(&dir));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("node is not installed (scripts/provision installs node and npm)".into());
    }
    let staging = target.join(format!("tools/binaryen.{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    let install = || -> std::result::Result<(), String> {
        fs::create_dir_all(&staging).map_err(|e| e.to_string())?;
        for file in ["package.json", "package-lock.json"] {
            fs::copy(source.join(file), staging.join(file)).map_err(|e| e.to_string())?;
        }
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&staging)
            .status()
            .map_err(|e| format!("npm does not run ({e}; scripts/provision installs it)"))?;
        if !status.success() {
            return Err("`npm ci` of tools/binaryen failed".into());
        }
        let _ = fs::remove_dir_all(&dir);
        // Another build may have put its install in place meanwhile: then use that one.
        if fs::rename(&staging, &dir).is_err() && !script(&dir).is_file() {
            return Err(format!("cannot move the installed binaryen to {}", dir.display()));
        }
        Ok(())
    };
    let installed = install();
    let _ = fs::remove_dir_all(&staging);
    installed?;
    Ok(script(&dir))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?
        } else {
            fs::copy(entry.path(), dest).map(drop)?
        }
    }
    Ok(())
}

/// The manifest template is JSON; the build only inserts a few members, as text, to keep the
/// build script free of a JSON dependency.
mod manifest {
    use super::*;

    pub struct Manifest(String);

    impl Manifest {
        pub fn read(path: &Path) -> Result<Self> {
            let text = fs::read_to_string(path)?;
            let body = text.trim_end().strip_suffix('}').ok_or("extension/manifest.json must be a JSON object")?;
            Ok(Self(body.trim_end().to_owned()))
        }

        /// With the committed `key` for the unpacked extension (it fixes the id); without it for
        /// the store, which assigns the id itself.
        pub fn for_chromium(&self, key: Option<&str>) -> String {
            let key = key.map(|key| format!(",\n  \"key\": \"{key}\"")).unwrap_or_default();
            format!(
                "{}{key},\n  \"background\": {{ \"service_worker\": \"background.js\", \"type\": \"module\" }}\n}}\n",
                self.0
            )
        }

        pub fn for_firefox(&self, addon_id: &str) -> String {
            format!(
                "{},\n  \"background\": {{ \"scripts\": [\"background.js\"], \"type\": \"module\" }},\n  \"browser_specific_settings\": {{ \"gecko\": {{ \"id\": \"{addon_id}\", \"strict_min_version\": \"128.0\" }} }}\n}}\n",
                self.0
            )
        }
    }
}
