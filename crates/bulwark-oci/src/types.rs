//! Image config, manifest and index.

use std::collections::BTreeMap;

use bulwark_layer::Layer;
use serde::{Deserialize, Serialize};

use crate::sha256_digest;

pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// The image's copyright notice (OCI defines no key for it; bulwark writes
/// and reads this one, beside `org.opencontainers.image.licenses`).
pub const ANNOTATION_COPYRIGHT: &str = "dev.bulwark.image.copyright";

/// An OCI content descriptor.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// OCI 1.1 `artifactType` (signatures, SBOMs and other referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// `os`/`architecture`/`variant`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// The runtime part of the image config (Docker's PascalCase names).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
}

/// One `history` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct History {
    pub created: String,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `rootfs`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub typ: String,
    pub diff_ids: Vec<String>,
}

/// The image configuration blob.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ImageConfig {
    pub created: String,
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub config: RuntimeConfig,
    pub rootfs: RootFs,
    pub history: Vec<History>,
}

/// An image manifest.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (also the layout's `index.json`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// What an image is made of, before encoding.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub platform: Platform,
    /// RFC 3339, from SOURCE_DATE_EPOCH.
    pub created: String,
    pub config: RuntimeConfig,
    /// Layers bottom-up, each with its history line.
    pub layers: Vec<(Layer, String)>,
    pub annotations: BTreeMap<String, String>,
}

/// A blob with its descriptor data.
#[derive(Clone, Debug)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    pub data: Vec<u8>,
}

impl Blob {
    pub fn new(media_type: &str, data: Vec<u8>) -> Self {
        Blob {
            media_type: media_type.to_owned(),
            digest: sha256_digest(&data),
            data,
        }
    }
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.data.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
            artifact_type: None,
        }
    }
}

/// An encoded image: manifest, config and layer blobs.
#[derive(Clone, Debug)]
pub struct Image {
    pub platform: Platform,
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Layer>,
    pub config_json: ImageConfig,
}

impl Image {
    /// Encodes an [`ImageSpec`].
    pub fn build(spec: ImageSpec) -> Image {
        let config_json = ImageConfig {
            created: spec.created.clone(),
            architecture: spec.platform.architecture.clone(),
            os: spec.platform.os.clone(),
            variant: spec.platform.variant.clone(),
            config: spec.config,
            rootfs: RootFs {
                typ: "layers".into(),
                diff_ids: spec.layers.iter().map(|(l, _)| l.diff_id.clone()).collect(),
            },
            history: spec
                .layers
                .iter()
                .map(|(_, h)| History {
                    created: spec.created.clone(),
                    created_by: h.clone(),
                    comment: None,
                })
                .collect(),
        };
        let config = Blob::new(MEDIA_TYPE_CONFIG, to_json(&config_json));
        let layers: Vec<Layer> = spec.layers.into_iter().map(|(l, _)| l).collect();
        let manifest = Manifest {
            schema_version: 2,
            media_type: MEDIA_TYPE_MANIFEST.into(),
            config: config.descriptor(),
            layers: layers
                .iter()
                .map(|l| Descriptor {
                    media_type: l.compression.media_type().into(),
                    digest: l.digest.clone(),
                    size: l.blob.len(),
                    platform: None,
                    annotations: BTreeMap::new(),
                    artifact_type: None,
                })
                .collect(),
            annotations: spec.annotations,
        };
        Image {
            platform: spec.platform,
            manifest: Blob::new(MEDIA_TYPE_MANIFEST, to_json(&manifest)),
            config,
            layers,
            config_json,
        }
    }

    /// Descriptor of the manifest, with platform.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = self.manifest.descriptor();
        d.platform = Some(self.platform.clone());
        d
    }
}

/// Builds the image index for several images.
pub fn build_index(images: &[Image], annotations: BTreeMap<String, String>) -> Blob {
    let idx = Index {
        schema_version: 2,
        media_type: Some(MEDIA_TYPE_INDEX.into()),
        manifests: images.iter().map(Image::descriptor).collect(),
        annotations,
    };
    Blob::new(MEDIA_TYPE_INDEX, to_json(&idx))
}

/// Compact JSON (what registries and digests see).
pub fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
