//! Security headers on every response: a Content-Security-Policy that lets the console's
//! own script and wasm run and nothing else, no framing, no MIME sniffing, no referrer;
//! and, when this server speaks HTTPS itself, Strict-Transport-Security.

use std::path::Path;

use axum::{
    Router,
    http::{HeaderName, HeaderValue, header},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;

/// Browsers that once reached the server over HTTPS use nothing else for a year.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The `'sha256-…'` source of each inline `<script>` of the built console (trunk's loader),
/// so the policy can allow exactly those and no other inline script.
fn inline_script_hashes(index_html: &str) -> Vec<String> {
    index_html
        .split("<script")
        .skip(1)
        .filter_map(|rest| {
            let (tag, body) = rest.split_once('>')?;
            let (body, _) = body.split_once("</script>")?;
            (!tag.contains("src="))
                .then(|| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(body))))
        })
        .collect()
}

/// The pages of the built console: the console itself and the Administration page.
const PAGES: [&str; 2] = ["index.html", "admin/index.html"];

/// The Content-Security-Policy for a console built into `static_dir`: the inline scripts of
/// both its pages are allowed.
pub fn content_security_policy(static_dir: &Path) -> String {
    let scripts = PAGES
        .iter()
        .flat_map(|page| {
            let html = std::fs::read_to_string(static_dir.join(page)).unwrap_or_default();
            inline_script_hashes(&html)
        })
        .collect::<Vec<_>>()
        .join(" ");
    // 'wasm-unsafe-eval' lets the page compile its own wasm (fetched from 'self');
    // inline styles are allowed because the console positions virtualized rows with them.
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' {scripts}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self'; \
         connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// Adds the security headers to every response of `router`. Strict-Transport-Security is
/// sent only over this server's own TLS: behind a proxy, the proxy decides it.
pub fn secure(router: Router, config: &Config) -> Router {
    let csp = content_security_policy(&config.static_dir);
    let hsts = config
        .tls
        .is_some()
        .then_some((header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY));
    let headers = [
        (header::CONTENT_SECURITY_POLICY, csp.as_str()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    headers
        .into_iter()
        .chain(hsts)
        .fold(
            router,
            |router, (name, value): (HeaderName, &str)| match HeaderValue::from_str(value) {
                Ok(value) => router.layer(SetResponseHeaderLayer::if_not_present(name, value)),
                Err(err) => {
                    tracing::error!(%err, %name, "invalid security header value");
                    router
                }
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inline_scripts_are_hashed() {
        let html = r#"<head><script type="module">init();</script>
            <script src="/app.js"></script><script>x()</script></head>"#;
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 2);
        let expected = format!("'sha256-{}'", STANDARD.encode(Sha256::digest("init();")));
        assert_eq!(hashes[0], expected);
    }

    #[test]
    fn the_policy_allows_the_console_and_forbids_framing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.html"),
            "<script type=\"module\">go()</script>",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("admin")).unwrap();
        std::fs::write(
            dir.path().join("admin/index.html"),
            "<script type=\"module\">admin()</script>",
        )
        .unwrap();
        let csp = content_security_policy(dir.path());
        assert!(csp.contains("'wasm-unsafe-eval'"));
        for script in ["go()", "admin()"] {
            let hash = format!("'sha256-{}'", STANDARD.encode(Sha256::digest(script)));
            assert!(csp.contains(&hash), "{script} is allowed");
        }
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.starts_with("default-src 'none'"));
    }
}
