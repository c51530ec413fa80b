//! `bulwark key`, `sign`, `attest`, `verify` and `copy`.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use bulwark_attest::Format as SigFormat;
use bulwark_image::{Options, Target};
use bulwark_sign::{PrivateKey, PublicKey};

use crate::cli::{Format, SignCommon};
use crate::term::safe;

/// The key password: BULWARK_PASSWORD, else COSIGN_PASSWORD.
pub fn password() -> anyhow::Result<Vec<u8>> {
    for var in ["BULWARK_PASSWORD", "COSIGN_PASSWORD"] {
        if let Some(v) = std::env::var_os(var) {
            return Ok(v.into_encoded_bytes());
        }
    }
    bail!(
        "no key password: set BULWARK_PASSWORD (or COSIGN_PASSWORD); an empty value means the key has no password"
    )
}

pub fn load_private_key(path: &Path) -> anyhow::Result<PrivateKey> {
    let pem = read_key_file(path, "private key")?;
    Ok(PrivateKey::from_encrypted_pem(
        &path.display().to_string(),
        &pem,
        &password()?,
    )?)
}

pub fn load_public_keys(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<PublicKey>> {
    paths
        .iter()
        .map(|p| {
            let pem = read_key_file(p, "public key")?;
            Ok(PublicKey::from_pem(&p.display().to_string(), &pem)?)
        })
        .collect()
}

/// A key file, bounded and regular; binary content (a DER key) is kept as
/// lossy text so the key parser can say which formats it accepts.
fn read_key_file(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = bulwark_limits::read_file(path, bulwark_limits::KEY_FILE, what)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// RFC 3339 time for signature annotations: SOURCE_DATE_EPOCH, else now.
pub fn created() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
                .unwrap_or(0)
        });
    bulwark_debian::time::format_rfc3339(secs)
}

/// Registry client settings; `BULWARK_REGISTRY_TIMEOUT` (seconds) shortens
/// the per-request timeout (labs, tests).
pub fn store_options(insecure: bool) -> Options {
    let mut o = Options {
        insecure,
        ..Options::default()
    };
    if let Some(t) = std::env::var("BULWARK_REGISTRY_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        o.timeout = std::time::Duration::from_secs(t.max(1));
    }
    o
}

pub fn key_generate(prefix: &Path, force: bool) -> anyhow::Result<ExitCode> {
    // PREFIX.key and PREFIX.pub, keeping a dotted prefix whole ("release.v1" → release.v1.key).
    let with = |ext: &str| {
        let mut p = prefix.as_os_str().to_owned();
        p.push(ext);
        std::path::PathBuf::from(p)
    };
    let (key_path, pub_path) = (with(".key"), with(".pub"));
    for p in [&key_path, &pub_path] {
        if p.exists() && !force {
            bail!(
                "{} exists; use --force to overwrite it or choose another prefix",
                p.display()
            );
        }
    }
    let pw = password()?;
    let key = PrivateKey::generate();
    let pem = key.to_encrypted_pem(&pw)?;
    write_private(&key_path, pem.as_bytes())?;
    bulwark_oci::write_file_atomic(&pub_path, key.public_key().to_pem().as_bytes())?;
    println!("{}", key_path.display());
    println!("{}", pub_path.display());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".bulwark-key-")
        .tempfile_in(parent)
        .with_context(|| format!("cannot write in {}", parent.display()))?;
    let _scratch = bulwark_limits::scratch::register(tmp.path());
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    // tempfile creates files 0600; the rename keeps the mode.
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Opens `image` to change it (sign, attest, copy to): archives are
/// unpacked and packed again on commit.
pub fn open_target(image: &str, insecure: bool) -> anyhow::Result<Target> {
    Ok(Target::open(&image.parse()?, &store_options(insecure))?)
}

/// Opens `image` to read it (verify, copy from): archives are read in place.
fn read_target(image: &str, insecure: bool) -> anyhow::Result<Target> {
    Ok(Target::read(&image.parse()?, &store_options(insecure))?)
}

pub fn sign(image: &str, key: &Path, common: &SignCommon) -> anyhow::Result<ExitCode> {
    let key = load_private_key(key)?;
    let format: SigFormat = common.signature_format.parse()?;
    let t = open_target(image, common.insecure)?;
    let subject = t.resolve()?;
    let written = bulwark_attest::sign(&t.store, &subject, &key, format, &created())?;
    t.store.commit()?;
    report(common.format, "signed", image, &subject.digest, &written)
}

pub fn attest(
    image: &str,
    key: &Path,
    type_: &str,
    predicate: &Path,
    common: &SignCommon,
) -> anyhow::Result<ExitCode> {
    let key = load_private_key(key)?;
    let format: SigFormat = common.signature_format.parse()?;
    let ptype = bulwark_attest::predicate_type(type_).with_context(|| {
        format!("unknown attestation type {type_:?}; use spdx, cyclonedx, slsa-provenance, vuln, openvex, custom or a URI")
    })?;
    let data = bulwark_limits::read_file(
        predicate,
        bulwark_limits::PREDICATE_FILE,
        "attestation predicate",
    )?;
    let value: serde_json::Value = serde_json::from_slice(&data).with_context(|| {
        format!(
            "{}: the predicate must be a JSON document",
            predicate.display()
        )
    })?;
    let t = open_target(image, common.insecure)?;
    let subject = t.resolve()?;
    let written =
        bulwark_attest::attest(&t.store, &subject, &key, ptype, value, format, &created())?;
    t.store.commit()?;
    report(common.format, "attested", image, &subject.digest, &written)
}

fn report(
    format: Format,
    verb: &str,
    image: &str,
    digest: &str,
    written: &[String],
) -> anyhow::Result<ExitCode> {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "image": image, "digest": digest, "manifests": written,
            }))?
        ),
        Format::Text => {
            println!("{verb} {image}@{digest}");
            for w in written {
                println!("  {w}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(
    image: &str,
    keys: &[std::path::PathBuf],
    attestations: &[String],
    skip_layers: bool,
    insecure: bool,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let keys = load_public_keys(keys)?;
    let required = attestations
        .iter()
        .map(|a| {
            bulwark_attest::predicate_type(a)
                .map(str::to_string)
                .with_context(|| format!("unknown attestation type {a:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let t = read_target(image, insecure)?;
    let (subject, bytes) = t.store.fetch(t.reference.as_deref())?;
    // A signature vouches for a digest; the bytes must be what the digests
    // say, all the way down, or the signature proves nothing about them.
    let depth = if skip_layers {
        bulwark_image::Depth::SkipLayers
    } else {
        bulwark_image::Depth::Full
    };
    let content = bulwark_image::check_image(&t.store, &subject, bytes, depth)
        .with_context(|| format!("{image}: the image's content does not match its digests"))?;
    let r = bulwark_attest::verify(&t.store, &subject, &keys, &required)?;
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&r)?;
            v["content"] = serde_json::to_value(&content)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => {
            let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal();
            let (g, red, z) = if color {
                ("\x1b[32m", "\x1b[31m", "\x1b[0m")
            } else {
                ("", "", "")
            };
            println!("{image}@{}", r.subject);
            println!(
                "  {g}content{z}  {} manifests, {} configs, {} checked against their digests ({:.1} MiB)",
                content.manifests,
                content.configs,
                if content.layers_read {
                    format!("{} layers", content.layers)
                } else {
                    "layers not read (--skip-layers)".to_string()
                },
                content.bytes as f64 / 1048576.0
            );
            for f in &r.found {
                let mark = if f.verified {
                    format!("{g}verified{z}")
                } else {
                    format!("{red}FAILED{z}  ")
                };
                println!(
                    "  {mark} {} ({}) {}{}",
                    f.kind,
                    f.format,
                    safe(&f.predicate_type),
                    if f.problem.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", safe(&f.problem))
                    }
                );
            }
            if r.found.is_empty() {
                println!("  {red}no signatures or attestations found{z}");
            }
            for m in &r.missing {
                println!("  {red}missing{z} attestation {}", safe(m));
            }
        }
    }
    if r.ok {
        Ok(ExitCode::SUCCESS)
    } else {
        let why = if !r.found.iter().any(|f| f.verified && f.kind == "signature") {
            if r.found.iter().any(|f| f.kind == "signature") {
                "no signature verifies with the given key(s)".to_string()
            } else {
                "the image has no signature".to_string()
            }
        } else {
            format!("required attestation(s) missing: {}", r.missing.join(", "))
        };
        eprintln!("error: verification failed for {image}: {why}");
        Ok(ExitCode::from(3))
    }
}

pub fn copy(src: &str, dst: &str, insecure: bool, format: Format) -> anyhow::Result<ExitCode> {
    let s = read_target(src, insecure)?;
    let d = open_target(dst, insecure)?;
    let summary = bulwark_image::copy(&s, &d)?;
    d.store.commit()?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Format::Text => println!(
            "{dst}@{}: {} manifests, {} blobs copied, {} already present, {} signatures/attestations",
            summary.digest,
            summary.manifests,
            summary.blobs_copied,
            summary.blobs_skipped,
            summary.referrers
        ),
    }
    Ok(ExitCode::SUCCESS)
}
