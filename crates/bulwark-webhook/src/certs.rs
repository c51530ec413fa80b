//! Serving certificates for the webhook: a private CA (ECDSA P-256) and a
//! server certificate for the Service's DNS names, signed by it. The API
//! server trusts the CA through the webhook configurations' `caBundle`.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// What [`issue`] made (PEM).
#[derive(Debug)]
pub struct Issued {
    pub ca_cert: String,
    pub cert: String,
    pub key: String,
    /// The DNS names the certificate holds.
    pub names: Vec<String>,
}

/// The DNS names a Service answers to inside the cluster.
#[must_use]
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_owned(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// Issues a CA and a server certificate for `names` (plus `extra`, e.g.
/// `127.0.0.1` or `localhost` for tests), valid for `days` from today.
///
/// # Errors
/// A name rcgen cannot encode.
pub fn issue(names: &[String], days: u32) -> Result<Issued, String> {
    let err = |e: rcgen::Error| e.to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (not_before, not_after) = (now.saturating_sub(3600), now + u64::from(days) * 86_400);
    let when = |secs: u64| rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(secs);

    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "bulwark admission webhook CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = when(not_before);
    ca.not_after = when(not_after);
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(names.to_vec()).map_err(err)?;
    server.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.not_before = when(not_before);
    server.not_after = when(not_after);
    let cert = server.signed_by(&key, &issuer).map_err(err)?;
    Ok(Issued {
        ca_cert: ca_cert.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
        names: names.to_vec(),
    })
}
