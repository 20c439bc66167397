//! The console's UI, embedded at compile time from `ui/dist-hq` (built by `npm run build:hq`
//! in `ui/`; `.ci/setup.d/40-hq-console.sh` does it). `build.rs` lists the files; a build
//! without them still compiles, warns, and serves [`NOT_BUILT_PAGE`] with status 503.

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// What `/console/` answers when the binary was built without the UI.
pub const NOT_BUILT_PAGE: &str = "<!doctype html><html lang=\"ar\" dir=\"rtl\"><meta charset=\"utf-8\">\
<title>صلة — المقر</title><body style=\"font-family:sans-serif;padding:2rem\">\
<h1>واجهة المقر غير مبنية في هذا البرنامج</h1>\
<p>The HQ console was not built into this binary. Build it with \
<code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build:hq</code>, then rebuild <code>sila-hq</code> \
(or run <code>bash .ci/setup</code>).</p></body></html>";

pub fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}
