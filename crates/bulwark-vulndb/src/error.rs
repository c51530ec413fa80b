//! Why vulnerability data could not be imported, stored or read.

/// Why vulnerability data could not be imported, stored or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A feed that is malformed, truncated, too large or of an unknown kind.
    #[error("{feed}: {position}: {detail}; the database was left as it was")]
    Feed {
        /// The file or URL.
        feed: String,
        /// Where in it (line, record, byte).
        position: String,
        /// What was wrong.
        detail: String,
    },
    /// Fetching a feed failed.
    #[error("{url}: {detail}; pass --from FILE to import a copy you fetched yourself")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        detail: String,
    },
    /// The database is missing, from another version, or damaged.
    #[error("{path}: {detail}")]
    Database {
        /// The file or directory.
        path: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// Local I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

pub(crate) fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn feed_err(
    feed: &str,
    position: impl Into<String>,
    detail: impl Into<String>,
) -> Error {
    Error::Feed {
        feed: feed.to_owned(),
        position: position.into(),
        detail: detail.into(),
    }
}
