//! Who may use the hub, over real sockets: what a cross-site page sends
//! (`Origin`, `text/plain` bodies, WebSocket upgrades), DNS rebinding
//! (`Host: evil.example`), a `--private` hub's readers with and without the
//! token (header and `?token=`), and links out of the served folders.

use cis490_tests::hub_client::{Error, get, post, start_with, ws_refusal};
use serde_json::{Value, json};

type TestResult = Result<(), Error>;

fn metrics(model: &str) -> Value {
    json!({"type": "metrics", "model": model, "variant": "realistic", "split": "host",
           "macro_f1": {"point": 0.9, "lo": 0.8, "hi": 0.95}})
}

/// Models named in the hub's snapshot.
async fn models_in_snapshot(addr: std::net::SocketAddr) -> Result<Vec<String>, Error> {
    let snapshot: Value = serde_json::from_slice(&get(addr, "/api/snapshot", &[]).await?.body)?;
    Ok(snapshot
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == "metrics")
        .filter_map(|e| e["model"].as_str().map(String::from))
        .collect())
}

#[tokio::test]
async fn a_cross_site_page_cannot_publish_whatever_its_content_type() -> TestResult {
    let (addr, _stop) = start_with(|_| {}).await?;
    let forged = metrics("forged").to_string();
    let evil = ("Origin", "http://evil.example");
    for content_type in ["text/plain", "application/json", "application/x-www-form-urlencoded"] {
        let answer = post(addr, forged.as_bytes(), &[evil, ("Content-Type", content_type)]).await?;
        assert_eq!(answer.status, 403, "{content_type}: {}", answer.text());
        assert!(answer.text().contains("Origin"), "{}", answer.text());
    }
    // Without an Origin (a program, or a browser that hides it), plain text is still refused.
    let answer = post(addr, forged.as_bytes(), &[("Content-Type", "text/plain;charset=UTF-8")]).await?;
    assert_eq!(answer.status, 415, "{}", answer.text());
    assert!(answer.text().contains("Content-Type"), "{}", answer.text());
    assert_eq!(post(addr, forged.as_bytes(), &[("Content-Type", "")]).await?.status, 415);
    assert_eq!(models_in_snapshot(addr).await?, Vec::<String>::new(), "nothing forged was published");
    // The hub's own page, programs and JSON with parameters pass.
    let own = format!("http://{addr}");
    let ok = [vec![("Origin", own.as_str())], vec![], vec![("Content-Type", "Application/JSON; charset=utf-8")]];
    for (i, headers) in ok.iter().enumerate() {
        let answer = post(addr, metrics(&format!("m{i}")).to_string().as_bytes(), headers).await?;
        assert_eq!(answer.status, 200, "{headers:?}: {}", answer.text());
    }
    assert_eq!(models_in_snapshot(addr).await?, ["m0", "m1", "m2"]);
    Ok(())
}

#[tokio::test]
async fn a_cross_site_page_cannot_open_the_stream_but_the_hubs_own_page_and_programs_can() -> TestResult {
    let (addr, _stop) = start_with(|config| config.allow_origins = vec!["https://lab.example".into()]).await?;
    assert_eq!(ws_refusal(addr, "", &[("Origin", "http://evil.example")]).await?, Some(403));
    assert_eq!(ws_refusal(addr, "", &[("Origin", "null")]).await?, Some(403));
    assert_eq!(ws_refusal(addr, "", &[("Origin", &format!("http://{addr}"))]).await?, None);
    assert_eq!(ws_refusal(addr, "", &[("Origin", "https://lab.example")]).await?, None, "--allow-origin");
    assert_eq!(ws_refusal(addr, "", &[]).await?, None, "no Origin: not a page");
    Ok(())
}

#[tokio::test]
async fn a_rebound_host_name_is_refused_on_every_route() -> TestResult {
    let run = tempfile::tempdir()?;
    std::fs::create_dir_all(run.path().join("mlp-realistic"))?;
    std::fs::write(run.path().join("mlp-realistic/model.onnx"), b"onnx")?;
    let (addr, _stop) = start_with(|config| {
        config.run_dir = Some(run.path().to_path_buf());
        config.allow_hosts = vec!["lab-server".into()];
    })
    .await?;
    let port = addr.port().to_string();
    let rebound = ("Host", "evil.example");
    let upgrade = [
        rebound,
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    for path in [
        "/",
        "/index.html",
        "/healthz",
        "/api/snapshot",
        "/api/models",
        "/api/validation/summary",
        "/models/mlp-realistic/model.onnx",
        "/anything",
    ] {
        let answer = get(addr, path, &[rebound]).await?;
        assert_eq!(answer.status, 421, "{path}: {}", answer.text());
        assert!(answer.text().contains("evil.example"), "{}", answer.text());
    }
    assert_eq!(get(addr, "/ws", &upgrade).await?.status, 421);
    assert_eq!(post(addr, metrics("x").to_string().as_bytes(), &[rebound]).await?.status, 421);
    assert_eq!(get(addr, "/healthz", &[("Host", &format!("evil.example:{port}"))]).await?.status, 421);
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}"), "lab-server".into()]
    {
        assert_eq!(get(addr, "/healthz", &[("Host", &host)]).await?.status, 200, "{host}");
    }
    Ok(())
}

#[tokio::test]
async fn a_private_hub_wants_the_token_for_reading_but_serves_its_page() -> TestResult {
    let public = tempfile::tempdir()?;
    std::fs::write(public.path().join("index.html"), "<html>dashboard</html>")?;
    let (addr, _stop) = start_with(|config| {
        config.token = Some("s3cret".into());
        config.private = true;
        config.public_dir = public.path().to_path_buf();
    })
    .await?;
    let bearer = ("Authorization", "Bearer s3cret");
    for path in ["/api/snapshot", "/api/models", "/api/validation/summary", "/models/x/model.onnx"] {
        let refused = get(addr, path, &[]).await?;
        assert_eq!(refused.status, 401, "{path}: {}", refused.text());
        assert!(refused.text().contains("missing token"), "{}", refused.text());
        assert_eq!(get(addr, path, &[("Authorization", "Bearer wrong")]).await?.status, 401, "{path}");
        assert_ne!(get(addr, path, &[bearer]).await?.status, 401, "{path}");
    }
    assert_eq!(get(addr, "/api/snapshot", &[("X-Cis490-Token", "s3cret")]).await?.status, 200);
    assert_eq!(get(addr, "/api/snapshot?token=s3cret", &[]).await?.status, 401, "?token= is for /ws only");
    assert_eq!(ws_refusal(addr, "", &[]).await?, Some(401));
    assert_eq!(ws_refusal(addr, "?token=wrong", &[]).await?, Some(401));
    assert_eq!(ws_refusal(addr, "?token=s3cret", &[]).await?, None);
    assert_eq!(ws_refusal(addr, "", &[bearer]).await?, None);
    // The page and its files stay public; /publish still wants the token.
    let page = get(addr, "/", &[]).await?;
    assert_eq!((page.status, page.text()), (200, "<html>dashboard</html>".to_string()));
    assert_eq!(get(addr, "/healthz", &[]).await?.status, 200);
    assert_eq!(post(addr, metrics("m").to_string().as_bytes(), &[]).await?.status, 401);
    Ok(())
}

#[tokio::test]
async fn a_private_hub_needs_a_token_and_bad_allow_lists_are_named() -> TestResult {
    let refused = start_with(|config| config.private = true).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("--private needs --token")));
    let refused = start_with(|config| config.allow_origins = vec!["lab.example".into()]).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("--allow-origin \"lab.example\"")));
    let refused = start_with(|config| config.allow_hosts = vec!["a/b".into()]).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("--allow-host \"a/b\"")));
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn links_out_of_the_public_and_run_folders_are_not_followed() -> TestResult {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir()?;
    std::fs::write(outside.path().join("secret.txt"), "secret")?;
    std::fs::create_dir_all(outside.path().join("stolen-realistic"))?;
    std::fs::write(outside.path().join("stolen-realistic/model.onnx"), "secret model")?;
    let public = tempfile::tempdir()?;
    std::fs::write(public.path().join("index.html"), "<html>")?;
    std::fs::write(public.path().join("app.js"), "js")?;
    symlink(outside.path().join("secret.txt"), public.path().join("leak.txt"))?;
    symlink(outside.path(), public.path().join("out"))?;
    symlink(public.path().join("app.js"), public.path().join("alias.js"))?;
    let run = tempfile::tempdir()?;
    std::fs::create_dir_all(run.path().join("gbt-realistic"))?;
    symlink(outside.path().join("secret.txt"), run.path().join("gbt-realistic/model.onnx"))?;
    symlink(outside.path().join("stolen-realistic"), run.path().join("stolen-realistic"))?;
    std::fs::create_dir_all(run.path().join("mlp-realistic"))?;
    std::fs::write(run.path().join("mlp-realistic/model.onnx"), "mlp")?;
    // A model of the run has both files (RunDir::models, the list train and eval see).
    std::fs::write(run.path().join("mlp-realistic/checkpoint.bin"), "ckpt")?;
    let (addr, _stop) = start_with(|config| {
        config.public_dir = public.path().to_path_buf();
        config.run_dir = Some(run.path().to_path_buf());
    })
    .await?;
    for path in [
        "/leak.txt",
        "/out/secret.txt",
        "/out/",
        "/models/gbt-realistic/model.onnx",
        "/models/stolen-realistic/model.onnx",
    ] {
        let answer = get(addr, path, &[]).await?;
        assert_eq!(answer.status, 404, "{path}: {}", answer.text());
        assert!(!answer.text().contains("secret"), "{path}");
    }
    let listed: Value = serde_json::from_slice(&get(addr, "/api/models", &[]).await?.body)?;
    assert_eq!(
        listed["models"].as_array().map(|m| m.iter().map(|e| e["name"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("mlp-realistic")])
    );
    // What ServeDir did stays: files with their type, links inside, the page for unknown paths.
    let js = get(addr, "/alias.js", &[]).await?;
    assert_eq!((js.status, js.text()), (200, "js".to_string()));
    for path in ["/", "/scene/replay", "/index.html"] {
        let page = get(addr, path, &[]).await?;
        assert_eq!((page.status, page.text()), (200, "<html>".to_string()), "{path}");
    }
    Ok(())
}

#[cfg(unix)]
#[tokio::test]
async fn bundles_go_compressed_to_clients_that_accept_it_and_are_revalidated() -> TestResult {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir()?;
    std::fs::write(outside.path().join("secret.gz"), "secret")?;
    let public = tempfile::tempdir()?;
    std::fs::write(public.path().join("index.html"), "<html>")?;
    std::fs::create_dir(public.path().join("pkg"))?;
    // The server never decodes a copy: any bytes stand for gzip here.
    std::fs::write(public.path().join("pkg/app.js"), "plain js")?;
    std::fs::write(public.path().join("pkg/app.js.gz"), "GZIPPED")?;
    std::fs::write(public.path().join("pkg/old.js.gz"), "STALE")?;
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(public.path().join("pkg/old.js"), "rebuilt js")?;
    std::fs::write(public.path().join("pkg/leak.js"), "leak js")?;
    symlink(outside.path().join("secret.gz"), public.path().join("pkg/leak.js.gz"))?;
    let (addr, _stop) = start_with(|config| config.public_dir = public.path().to_path_buf()).await?;
    let gzip = [("Accept-Encoding", "gzip, deflate, br")];

    let zipped = get(addr, "/pkg/app.js", &gzip).await?;
    assert_eq!((zipped.status, zipped.text()), (200, "GZIPPED".to_string()));
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(zipped.header("content-type").is_some_and(|t| t.contains("javascript")), "{}", zipped.head);
    assert_eq!(zipped.header("vary"), Some("accept-encoding"));
    assert_eq!(zipped.header("cache-control"), Some("no-cache"));

    let plain = get(addr, "/pkg/app.js", &[]).await?;
    assert_eq!((plain.status, plain.text()), (200, "plain js".to_string()), "a client without gzip");
    assert_eq!(plain.header("content-encoding"), None);
    let stale = get(addr, "/pkg/old.js", &gzip).await?;
    assert_eq!(stale.text(), "rebuilt js", "a copy older than its file is never served");
    let leak = get(addr, "/pkg/leak.js", &gzip).await?;
    assert_eq!(leak.text(), "leak js", "a copy that links out of the folder is never served");

    // A reload revalidates: unchanged files answer 304 without a body.
    let since = zipped.header("last-modified").ok_or("no Last-Modified")?.to_string();
    let again = get(addr, "/pkg/app.js", &[("Accept-Encoding", "gzip"), ("If-Modified-Since", &since)]).await?;
    assert_eq!((again.status, again.body.len()), (304, 0));
    // And by its ETag, which also sees a rebuild within the same second.
    let etag = zipped.header("etag").ok_or("no ETag")?.to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let matched = get(addr, "/pkg/app.js", &[("Accept-Encoding", "gzip"), ("If-None-Match", &etag)]).await?;
    assert_eq!((matched.status, matched.body.len()), (304, 0));
    assert_eq!((matched.header("etag"), matched.header("cache-control")), (Some(etag.as_str()), Some("no-cache")));
    std::fs::write(public.path().join("pkg/app.js"), "plain js, rebuilt")?;
    let rebuilt = get(addr, "/pkg/app.js", &[("Accept-Encoding", "gzip"), ("If-None-Match", &etag)]).await?;
    assert_eq!((rebuilt.status, rebuilt.text()), (200, "plain js, rebuilt".to_string()));
    assert!(rebuilt.header("etag").is_some_and(|tag| tag != etag));

    // With a brotli copy too, each client gets the one it prefers.
    std::fs::write(public.path().join("pkg/both.js"), "plain")?;
    std::fs::write(public.path().join("pkg/both.js.gz"), "GZIPPED")?;
    std::fs::write(public.path().join("pkg/both.js.br"), "BROTLI")?;
    for (accepted, body, encoding) in [
        ("gzip, deflate, br", "BROTLI", Some("br")),
        ("br;q=1.0, gzip;q=0.8", "BROTLI", Some("br")),
        ("br;q=0.1, gzip", "GZIPPED", Some("gzip")),
        ("gzip", "GZIPPED", Some("gzip")),
        ("br", "BROTLI", Some("br")),
        ("identity", "plain", None),
    ] {
        let answer = get(addr, "/pkg/both.js", &[("Accept-Encoding", accepted)]).await?;
        assert_eq!(
            (answer.status, answer.text().as_str(), answer.header("content-encoding")),
            (200, body, encoding),
            "{accepted}"
        );
    }
    let brotli = get(addr, "/pkg/both.js", &gzip).await?;
    let tag = brotli.header("etag").ok_or("no ETag")?.to_string();
    let matched = get(addr, "/pkg/both.js", &[("Accept-Encoding", "br"), ("If-None-Match", &tag)]).await?;
    assert_eq!(matched.status, 304);
    std::fs::write(public.path().join("pkg/both.js.br"), "BROTLI, rebuilt")?;
    let changed = get(addr, "/pkg/both.js", &[("Accept-Encoding", "br"), ("If-None-Match", &tag)]).await?;
    assert_eq!((changed.status, changed.text()), (200, "BROTLI, rebuilt".to_string()), "a new copy is a new tag");
    Ok(())
}
