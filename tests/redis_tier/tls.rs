//! The Redis tier over TLS (`rediss://`, feature `redis-tls`), against a real
//! `redis-server` that speaks only TLS, with a certificate authority and a server
//! certificate made here by `openssl` (which `scripts/test.sh` installs when missing).
#![cfg(feature = "redis-tls")]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::redis_server::Server;
use common::*;
use smartcache::prelude::*;

/// A certificate authority and a certificate it signed for 127.0.0.1, in `dir`.
struct Certificates {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (scripts/test.sh installs it)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn certificates(dir: &Path) -> Certificates {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    openssl(
        dir,
        &[
            &["req", "-x509", "-nodes", "-days", "2"][..],
            &ec[..],
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=smartcache test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req", "-nodes"][..],
            &ec[..],
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write san.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    Certificates {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// A server that speaks only TLS, on its port.
fn tls_server(certs: &Certificates) -> Server {
    let port = common::redis_server::free_port();
    let port_arg = port.to_string();
    let (cert, key, ca) = (
        certs.cert.to_string_lossy(),
        certs.key.to_string_lossy(),
        certs.ca.to_string_lossy(),
    );
    Server::start_on(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &port_arg,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ],
    )
}

#[test]
fn a_rediss_server_is_reached_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = certificates(dir.path());
    let server = tls_server(&certs);
    let url = format!("rediss://127.0.0.1:{}/", server.port);
    let open = |folder: &Path| -> SmartCache<u64, Vec<u8>> {
        config(folder)
            .redis(url.clone())
            .redis_ca(&certs.ca)
            .tier(Tier::Redis)
            .build()
            .expect("build")
    };
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let writer = open(a.path());
    assert_eq!(writer.insert(1, medium(1)).expect("insert"), Tier::Redis);
    let reader = open(b.path());
    assert_eq!(reader.get(&1).as_deref(), Some(&medium(1)));
    assert_eq!(reader.stats().redis.hits, 1, "{}", reader.stats());

    // The server speaks nothing but TLS: a plain connection gets no answer.
    let plain = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port))
        .expect("client")
        .get_connection_with_timeout(std::time::Duration::from_millis(500))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(plain.is_err(), "the server answered in plain text");
}

#[test]
fn an_untrusted_certificate_is_a_clear_error_naming_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = certificates(dir.path());
    let server = tls_server(&certs);
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .redis(format!("rediss://127.0.0.1:{}/", server.port))
        .tier(Tier::Redis)
        .build()
        .expect("build");
    let err = cache.insert(1, medium(1)).expect_err("an untrusted server");
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
    assert!(err.to_string().contains("redis_ca"), "{err}");
    assert_eq!(cache.get(&1), None);

    let missing = config(dir.path())
        .redis(format!("rediss://127.0.0.1:{}/", server.port))
        .redis_ca(dir.path().join("absent.pem"))
        .tier(Tier::Redis)
        .build::<u64, Vec<u8>>()
        .expect_err("a missing authority file");
    assert!(missing.to_string().contains("absent.pem"), "{missing}");
}
