// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // WebKitGTK's DMA-BUF renderer allocates GPU-style buffers even where there is no GPU (a
    // shared office laptop, Xvfb): turning it off took the web process from 297 to 190 MB
    // resident with nothing else changed (tests/desktop/bench.mjs). A value set by the user
    // wins. Set before any thread exists, which is what makes set_var sound here.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        unsafe { std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1") };
    }
    sila_desktop::run()
}
